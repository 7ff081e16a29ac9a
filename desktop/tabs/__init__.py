"""The main window's tabs: accounts and customers."""
