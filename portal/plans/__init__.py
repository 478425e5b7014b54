"""Joint business plans and the visit log: what a dealer and their manager agree to do in a quarter."""
