"""phananh: the operators' command line for the citizen-report platform."""
