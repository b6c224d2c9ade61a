"""User pages: filing and following recovery cases. Thin: each page calls one service or selector of
cases/ or accounts/."""
