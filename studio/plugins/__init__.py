"""The plugin contract: the API plugin authors import, manifests, the registry and its guard."""
