"""Studio's own generators, registered through the same manifest contract as third-party plugins."""
