"""Transfer use cases: the application here, and each message of the cross-region conversation."""
