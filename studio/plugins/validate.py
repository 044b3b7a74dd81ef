"""``studio plugins validate PATH``: static checks of a plugin project before it is installed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from studio.plugins.api import API_VERSION, api_compatible
from studio.plugins.manifest import MANIFEST_NAME, Manifest, ManifestError, read_manifest
from studio.plugins.registry import ENTRY_POINT_GROUP

__all__ = ["ValidationReport", "validate_plugin"]

_SKIP = {".venv", "venv", "build", "dist", ".git", "__pycache__", "node_modules"}


@dataclass
class ValidationReport:
    path: Path
    manifest: Manifest | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


#: What plugin code may import from Studio: the public API and the testing kit.
ALLOWED = ("studio.plugins.api", "studio.testing")


def _forbidden_imports(package_dir: Path) -> list[str]:
    """Imports of Studio's internals (``studio.ui``, ``studio.core``...) in the plugin's code,
    found by reading it (nothing is run). Each is "file:line: imports X"."""
    import ast

    problems = []
    for source in sorted(package_dir.rglob("*.py")):
        if _SKIP.intersection(source.relative_to(package_dir).parts):
            continue
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
        except (SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{source.name}: cannot be read as Python ({exc})")
            continue
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                         if node.module == "studio"]  # fmt: skip
            for name in names:
                if name == "studio" or name.startswith("studio."):
                    if (
                        not any(name == a or name.startswith(a + ".") for a in ALLOWED)
                        and name != "studio"
                    ):
                        rel = source.relative_to(package_dir.parent)
                        problems.append(
                            f"{rel}:{node.lineno}: imports {name}; plugins may import only "
                            f"{' and '.join(ALLOWED)}"
                        )
    return problems


def _find_manifest(folder: Path) -> Path | None:
    for path in sorted(folder.rglob(MANIFEST_NAME)):
        if not _SKIP.intersection(path.relative_to(folder).parts):
            return path
    return None


def validate_plugin(path: str | Path) -> ValidationReport:
    """Check a plugin project folder, or its ``studio-plugin.toml``, without importing its code.

    Checks the manifest schema and API version, that each contribution's module exists in the
    project, and that ``pyproject.toml`` declares the ``studio.plugins`` entry point naming the
    manifest.
    """
    path = Path(path)
    report = ValidationReport(path)
    if not path.exists():
        report.errors.append(f"{path}: no such file or folder")
        return report
    if path.is_file():
        manifest_path = path
        project = next((p for p in path.parents if (p / "pyproject.toml").exists()), None)
    else:
        manifest_path = _find_manifest(path)
        project = path if (path / "pyproject.toml").exists() else None
        if manifest_path is None:
            report.errors.append(f"{path}: no {MANIFEST_NAME} found")
            return report
    try:
        report.manifest = read_manifest(manifest_path)
    except ManifestError as exc:
        report.errors.extend(str(exc).splitlines())
        return report
    wanted = report.manifest.plugin.api_version
    if not api_compatible(wanted):
        report.errors.append(f"needs plugin API {wanted}; this Studio provides {API_VERSION}")
    package_dir = manifest_path.parent
    root = package_dir.parent
    for c in report.manifest.contributions:
        rel = Path(*c.module.split("."))
        if not ((root / rel).with_suffix(".py").exists() or (root / rel / "__init__.py").exists()):
            report.errors.append(f"contribution {c.id}: module {c.module} not found under {root}")
    report.errors.extend(_forbidden_imports(package_dir))
    if report.manifest.capabilities.network:
        report.warnings.append(
            "asks for network access: Studio works offline and will ask the user"
        )
    if project is None:
        report.warnings.append("no pyproject.toml found: cannot check the entry point")
        return report
    try:
        with open(project / "pyproject.toml", "rb") as fh:
            pyproject = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, OSError) as exc:
        report.errors.append(f"pyproject.toml: {exc}")
        return report
    eps = pyproject.get("project", {}).get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    expected = f"{package_dir.name}:{manifest_path.name}"
    if not eps:
        report.errors.append(
            f'pyproject.toml: add [project.entry-points."{ENTRY_POINT_GROUP}"] '
            f'<name> = "{expected}"'
        )
    elif expected not in eps.values():
        report.errors.append(
            f"pyproject.toml: the {ENTRY_POINT_GROUP} entry point should be {expected!r}, "
            f"found {', '.join(map(repr, eps.values()))}"
        )
    return report
