"""Chain adapters: Django-free access to blockchains (reading, scanning, signing, broadcasting)."""
