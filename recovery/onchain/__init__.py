"""On-chain: the chain adapter of each configured network, the signers, address rules and prices, as this
deployment configures them over the Django-free `chains` package. Imports models and chains only."""
