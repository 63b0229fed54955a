"""Every optional import fails with one line that names the extra to install.

The code base is walked for imports: each third-party module is either a core
dependency or registered in `chatkit._optional.EXTRAS` under an extra of
``pyproject.toml`` that installs it. Then each importing module is imported in
a subprocess where that package is made unimportable
(``sys.modules[name] = None``), and the error must carry
``pip install 'chatkit[<extra>]'``.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chatkit._optional import EXTRAS, PACKAGES, extra_for, import_optional, missing
from chatkit.errors import ConfigurationError, MissingDependencyError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIRS = ("chatkit", "chatkit_integrations")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
HINT = re.compile(r"pip install 'chatkit\[([a-z0-9_,-]+)\]'")

# Modules that import an optional package without the helper, and why that is right.
EXEMPT = {
    "chatkit.testing.integration_contract": "a pytest helper: who imports it runs pytest",
    "chatkit.testing.store_contract": "a pytest helper: who imports it runs pytest",
    "chatkit.testing.blob_contract": "a pytest helper: who imports it runs pytest",
    "chatkit.testing.channel_contract": "a pytest helper: who imports it runs pytest",
    "chatkit.stores.postgres": "opened by URL through chatkit.plugins.stores (checked below)",
    "chatkit.stores.postgres_connect": "a part of chatkit.stores.postgres, imported only by it",
    "chatkit.stores.postgres_writes": "a part of chatkit.stores.postgres, imported only by it",
    "chatkit.stores.postgres_leases": "a part of chatkit.stores.postgres, imported only by it",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[str, str]]:
    """(module imported, where) for every import: module level, function, type checking."""
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = "function"
            elif isinstance(child, ast.If) and _type_checking(child):
                inner = "typing"
            if isinstance(child, ast.Import):
                found.extend((alias.name, where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, where))
            elif (
                isinstance(child, ast.Call)
                and getattr(child.func, "id", getattr(child.func, "attr", None))
                in ("import_optional", "import_module")
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
                and not child.args[0].value.startswith(".")
            ):
                found.append((child.args[0].value, "call"))
            visit(child, inner)

    visit(tree, "module")
    return found


@cache
def _sources() -> dict[str, list[tuple[str, str]]]:
    result = {}
    for folder in PACKAGES_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            result[_module_name(path)] = _imports(ast.parse(path.read_text(encoding="utf-8")))
    return result


@cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _third_party(module: str) -> str | None:
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names or top in PACKAGES_DIRS or top == "__future__":
        return None
    return top


@cache
def _closure(requirements: frozenset[str]) -> frozenset[str]:
    """The distributions these requirements bring, transitively, as installed here."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            inner = Requirement(line)
            if inner.marker is None or any(
                inner.marker.evaluate({"extra": extra})
                for extra in ("", *sorted(requirement.extras))
            ):
                todo.append(inner)
    return frozenset(names)


def _requirements(extra: str) -> list[Requirement]:
    """An extra's requirements, with ``chatkit[...]`` references expanded."""
    result: list[Requirement] = []
    for line in PYPROJECT["project"]["optional-dependencies"][extra]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == "chatkit":
            for inner in sorted(requirement.extras):
                result.extend(_requirements(inner))
        else:
            result.append(requirement)
    return result


def _core() -> frozenset[str]:
    return _closure(frozenset(PYPROJECT["project"]["dependencies"]))


def _installs(extra: str, module: str) -> bool:
    """Whether ``pip install 'chatkit[extra]'`` brings ``module`` (by its distribution)."""
    dists = {canonicalize_name(d) for d in _distributions().get(module, [])}
    direct = frozenset(str(r) for r in _requirements(extra))
    return bool(dists & _closure(direct))


def test_the_registry_matches_pyproject() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for module, extra in EXTRAS.items():
        assert extra in extras, f"{module}: no extra {extra!r} in pyproject.toml"
        package = Requirement(PACKAGES[module])
        named = [
            r
            for r in _requirements(extra)
            if canonicalize_name(r.name) == canonicalize_name(package.name)
        ]
        assert named, f"extra {extra!r} does not require {package.name} (for {module})"
        assert package.extras <= set().union(*(r.extras for r in named)), module
        assert _installs(extra, module), f"chatkit[{extra}] does not install {module}"
    assert set(PACKAGES) == set(EXTRAS)
    assert extra_for("yaml.constructor") == "yaml"


def test_every_third_party_import_is_core_or_registered() -> None:
    core = _core()
    unregistered = set()
    for name, imports in _sources().items():
        for module, _where in imports:
            top = _third_party(module)
            if top is None or top in EXTRAS:
                continue
            dists = {canonicalize_name(d) for d in _distributions().get(top, [])}
            if dists & core:
                continue
            if name in EXEMPT:
                continue
            # A package one of the extras brings along (requests with zenpy, urllib3
            # with hubspot-api-client) counts when that import is guarded by the
            # extra's hint: the per-module test below checks the message.
            if any(_installs(extra, top) for extra in set(EXTRAS.values())):
                continue
            unregistered.add(f"{name}: {module}")
    assert not unregistered, "not core, not in chatkit._optional.EXTRAS: " + ", ".join(
        sorted(unregistered)
    )


def test_core_dependencies_do_not_include_the_extras() -> None:
    core = _core()
    for module in EXTRAS:
        dists = {canonicalize_name(d) for d in _distributions().get(module, [])}
        assert not dists & core, f"{module} is optional but a core dependency brings it"


def _module_level_sites() -> list[tuple[str, str]]:
    sites = set()
    core = _core()
    for name, imports in _sources().items():
        if name in EXEMPT:
            continue
        for module, where in imports:
            top = _third_party(module)
            if top is None or where != "module":
                continue
            dists = {canonicalize_name(d) for d in _distributions().get(top, [])}
            if not dists & core:
                sites.add((name, top))
    return sorted(sites)


def _run(code: str, blocked: list[str]) -> subprocess.CompletedProcess[str]:
    prelude = "import sys\n" + "".join(f"sys.modules[{b!r}] = None\n" for b in blocked)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def _assert_hint(output: str, module: str) -> None:
    hints = HINT.findall(output)
    assert hints, f"no install hint in:\n{output}"
    for hint in hints:
        assert any(_installs(extra, module) for extra in hint.split(",")), (
            f"hint chatkit[{hint}] does not install {module}:\n{output}"
        )


def test_the_walk_finds_the_known_sites() -> None:
    sites = _module_level_sites()
    assert ("chatkit.transports.redis", "redis") in sites
    assert ("chatkit_integrations._server", "uvicorn") in sites
    assert ("chatkit_integrations.zendesk._zenpy", "zenpy") in sites
    assert ("chatkit_integrations.hubspot._api", "urllib3") in sites
    assert len(sites) >= 12


@pytest.mark.parametrize(("name", "module"), _module_level_sites())
def test_importing_without_the_package_fails_with_its_extra(name: str, module: str) -> None:
    done = _run(
        f"""
        import importlib
        try:
            importlib.import_module({name!r})
        except ImportError as exc:
            print(type(exc).__name__, exc, sep=": ")
        else:
            print("imported")
        """,
        [module],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout  # one line
    _assert_hint(done.stdout, module)


CALLS = [
    ("yaml", "from chatkit import RuleSet\nRuleSet.from_yaml('rules: []')"),
    ("yaml", "from chatkit import Flow\nFlow.from_yaml('name: x')"),
    ("yaml", "from chatkit.models.surveys import SurveyForm\nSurveyForm.from_yaml('a: 1')"),
    (
        "hubspot",
        "from chatkit_integrations.hubspot._api import HubSpotAPI\n"
        "HubSpotAPI(access_token='t', host='http://127.0.0.1:9', timeout=1)",
    ),
    (
        "hubspot",
        "from chatkit_integrations.hubspot.emulator import HubSpotEmulator\n"
        "HubSpotEmulator().client()",
    ),
    (
        "simple_salesforce",
        "from chatkit_integrations.salesforce.emulator import SalesforceEmulator\n"
        "SalesforceEmulator().client()",
    ),
    ("psycopg", "from chatkit.plugins import stores\nstores.load('postgresql')"),
    ("redis", "from chatkit.plugins import transports\ntransports.load('redis')"),
    (
        "vaderSentiment",
        "from chatkit.understanding import sentiment_analyzers\nsentiment_analyzers.load('vader')",
    ),
    ("zenpy", "from chatkit.integrations import integrations\nintegrations.load('zendesk')"),
]


@pytest.mark.parametrize(("module", "code"), CALLS, ids=[c[1].split("\n")[1] for c in CALLS])
def test_features_that_import_on_use_fail_with_their_extra(module: str, code: str) -> None:
    done = _run(
        "try:\n"
        + textwrap.indent(code, "    ")
        + "\nexcept Exception as exc:\n    print(type(exc).__name__, exc, sep=': ')\n"
        + "else:\n    print('no error')\n",
        [module],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    assert "Error: " in done.stdout, done.stdout
    _assert_hint(done.stdout, module)


def test_the_cli_prints_the_hint_whole() -> None:
    """Rich markup must not eat ``[postgres]`` out of the hint."""
    done = _run(
        """
        from chatkit.cli import main
        sys.argv = ["chatkit", "migrate", "--url", "postgresql://127.0.0.1:9/nothing"]
        main()
        """,
        ["psycopg"],
    )
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "pip install 'chatkit[postgres]'" in output, output
    assert "Traceback" not in output


def test_the_helper_raises_a_typed_error() -> None:
    with pytest.raises(MissingDependencyError) as caught:
        import_optional("trustme._no_such_module", "a test")
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ImportError)
    assert str(error) == "a test needs trustme: pip install 'chatkit[emulators]'"
    assert (error.extra, error.package, error.module, error.name) == (
        "emulators",
        "trustme",
        "trustme",
        "trustme",
    )
    assert error.hint == "pip install 'chatkit[emulators]'"
    assert isinstance(error.__cause__, ImportError)
    # A block of imports: the message names the one that failed.
    other = missing("starlette", "the emulator", ModuleNotFoundError("x", name="uvicorn.config"))
    assert str(other) == "the emulator needs uvicorn: pip install 'chatkit[emulators]'"
    with pytest.raises(KeyError):
        missing("not_an_optional_package", "a test")


def test_every_install_hint_written_anywhere_names_real_extras() -> None:
    """Docstrings, docs, README, examples: ``pip install 'chatkit[x]'`` names real extras."""
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for folder in (*PACKAGES_DIRS, "examples"):
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    seen = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "chatkit-integrations[" not in text, f"{path}: no such distribution"
        for found in re.finditer(r"chatkit\[([a-z0-9_,-]+)\]", text):
            seen += 1
            unknown = set(found.group(1).split(",")) - extras
            assert not unknown, f"{path.relative_to(ROOT)}: unknown extra {unknown}"
    assert seen > 20
