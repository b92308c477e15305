"""01 and 00: the data doctor, exploration views, demo feedback, and the labelling loop."""
