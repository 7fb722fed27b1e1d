"""The Hub package: its typed objects, read from the models a JupyterHub 5 or 6 sends."""
