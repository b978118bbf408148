"""judge-client installs and works in a fresh virtualenv that holds nothing but its declared
dependencies: no torch, no transformers, no fastapi, no judge_service.

How the venv is filled, and why. ``pip install ./clients/python`` from PyPI would be simplest but
makes CI depend on the network and on whatever versions PyPI serves that day. Instead:

1. the client is built into a wheel from a copy of its folder (offline: ``--no-build-isolation``
   with the project venv's setuptools; a copy, so no ``build/`` lands in the shared tree);
2. its declared dependencies (``Requires-Dist``, markers evaluated) are resolved recursively
   against the project venv's installed distributions, and exactly those distributions' files
   (from their RECORD, ``.dist-info`` included) are copied into the new venv's site-packages;
3. the wheel is installed with ``pip install --no-index`` *with* dependency checking, so pip
   itself confirms that the declared requirements are satisfied by that closure and nothing else.

This is offline, takes seconds, and tests the same httpx/pydantic versions the rest of the
suite runs with. Finally a script in that venv talks to a real service on a loopback socket.
"""

from __future__ import annotations

import email.parser
import importlib.metadata as metadata
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from judge_service.app import create_app
from test_client import serve

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "python"
HEAVY = ("torch", "transformers", "fastapi", "judge_service", "numpy", "sqlalchemy")


def run(*cmd: str | Path, cwd: Path, timeout: float = 60) -> str:
    # cwd outside the checkout: `python -c` puts the working directory on sys.path, and from the
    # repository root that alone would make judge_service importable.
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def wheel_requirements(wheel: Path) -> list[str]:
    """``Requires-Dist`` of the wheel just built (not of the editable install, which may be stale)."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(meta).decode()).get_all("Requires-Dist") or []


def dependency_closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` pull in, transitively: a dependency
    counts when its marker holds for this interpreter and the extras its parent was asked for."""

    def applies(req: Requirement, extras: set[str]) -> bool:
        return req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""})

    seen: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in requirements]
    todo = [r for r in todo if applies(r, set())]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = metadata.distribution(req.name)
        assert req.specifier.contains(dist.version, prereleases=True), f"{req} not satisfied by {dist.version}"
        seen[name] = dist
        todo += [sub for sub in map(Requirement, dist.requires or []) if applies(sub, set(req.extras))]
    return list(seen.values())


def copy_distribution(dist: metadata.Distribution, site_packages: Path) -> None:
    files = dist.files
    assert files, f"{dist.metadata['Name']} has no RECORD; reinstall it with pip"
    for file in files:
        if file.parts and file.parts[0] == "..":  # console scripts outside site-packages: not needed
            continue
        source = Path(dist.locate_file(file))
        if source.is_file():
            target = site_packages / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_client_installs_and_runs_without_the_service_stack(tmp_path, make_settings):
    # 1. a wheel of the client, built from a clean copy of its folder
    source = tmp_path / "judge-client-src"
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "dist", "__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", tmp_path / "wheels", source, cwd=tmp_path)
    wheel = next((tmp_path / "wheels").glob("judge_client-*.whl"))

    # 2. a fresh venv holding exactly the client's declared dependency closure
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(run(python, "-c", purelib, cwd=tmp_path).strip())
    assert site_packages != Path(sysconfig.get_paths()["purelib"])
    declared = [r for r in wheel_requirements(wheel) if "extra ==" not in r]
    assert sorted(Requirement(r).name for r in declared) == ["httpx", "pydantic"]
    closure = dependency_closure(declared)
    names = {canonicalize_name(d.metadata["Name"]) for d in closure}
    assert {"httpx", "httpcore", "pydantic", "pydantic-core"} <= names and not names & {"torch", "fastapi"}
    for dist in closure:
        copy_distribution(dist, site_packages)

    # 3. pip installs the wheel offline, checking its requirements against that closure
    run(python, "-m", "pip", "install", "--no-index", "-q", "--disable-pip-version-check", wheel, cwd=tmp_path)
    run(python, "-m", "pip", "check", "--disable-pip-version-check", cwd=tmp_path)

    probe = (
        "import importlib.util, judge_client\n"
        f"print(sorted(m for m in {HEAVY!r} if importlib.util.find_spec(m)))\n"
        "print(judge_client.__file__)\n"
    )
    missing_heavy, location = run(python, "-c", probe, cwd=tmp_path).splitlines()
    assert missing_heavy == "[]", f"the isolated venv can import {missing_heavy}"
    assert Path(location).is_relative_to(site_packages)

    # 4. and it talks to a real service
    script = (
        "import sys\n"
        "from judge_client import JudgeClient, NotFound\n"
        "with JudgeClient(sys.argv[1]) as c:\n"
        "    assert c.health() == {'status': 'ok'}\n"
        "    j = c.judge(rubric='helpfulness', prompt='Capital of France?', response='Paris.')\n"
        "    print(j.rubric.name, j.score is not None)\n"
        "    try:\n"
        "        c.judge(rubric='nope', prompt='x', response='y')\n"
        "    except NotFound as e:\n"
        "        print(e.code, e.field)\n"
    )
    with serve(create_app(make_settings())) as url:
        assert run(python, "-c", script, url, cwd=tmp_path).split() == ["helpfulness", "True", "not_found", "rubric"]
