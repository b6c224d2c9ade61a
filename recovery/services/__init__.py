"""Services: every write the system makes, as functions named <entity>_<action> with keyword arguments."""
