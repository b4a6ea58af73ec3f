"""What the dialplan leaves behind for the app: the static menu's call records."""
