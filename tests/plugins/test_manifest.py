import pytest

from studio.plugins.manifest import ManifestError, parse_manifest

GOOD = """
[plugin]
name = "my-plugin"
version = "1.2.0"
api_version = "1.0"

[capabilities]
device = ["cpu", "cuda"]

[[contributions]]
id = "gen"
kind = "image"
title = "Generator"
entry = "my_plugin.gen:Gen"
"""


def test_valid_manifest():
    m = parse_manifest(GOOD)
    assert m.plugin.name == "my-plugin"
    assert m.contributions[0].module == "my_plugin.gen"
    assert m.contributions[0].attr == "Gen"
    assert m.capabilities.network is False  # off unless asked


@pytest.mark.parametrize(
    "change, message",
    [
        (('kind = "image"', 'kind = "hologram"'), "unknown kind"),
        (('entry = "my_plugin.gen:Gen"', 'entry = "my_plugin.gen"'), "must look like"),
        (('api_version = "1.0"', 'api_version = "latest"'), "api_version"),
        (('name = "my-plugin"', 'name = "My Plugin"'), "lower-case"),
        (('device = ["cpu", "cuda"]', 'device = ["tpu"]'), "capabilities.device"),
    ],
)
def test_invalid_manifests_say_where(change, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(GOOD.replace(*change))


def test_not_toml():
    with pytest.raises(ManifestError, match="not valid TOML"):
        parse_manifest("[plugin\nname=")


def test_needs_a_contribution():
    with pytest.raises(ManifestError, match="contributions"):
        parse_manifest(GOOD.split("[[contributions]]")[0])
