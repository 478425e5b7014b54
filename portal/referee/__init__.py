"""The referee: products and their price lists, territories as administrative regions, and what the portal
detects by itself (sales below the floor price, goods shipped outside the dealer's territory)."""
