"""Qt-free core: jobs, devices, models, resources, settings and the media values panels exchange."""
