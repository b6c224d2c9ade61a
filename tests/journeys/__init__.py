"""Journey tests: whole journeys through the running system, driven only as people and chains act."""
