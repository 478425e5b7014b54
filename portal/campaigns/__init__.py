"""Sales campaigns (SPIFFs): short incentives on chosen products, counted from the imported sales and settled on
the dealers' accounts within an overall budget."""
