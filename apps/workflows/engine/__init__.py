"""The workflow graph engine. Free of Django: everything from the host arrives as ports."""
