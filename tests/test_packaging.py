"""`pip install . && tgfeed demo` works from a plain (non-editable) install: the
wheel carries the templates and the sample articles."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0 and "hatchling" in r.stderr:
        pytest.skip("hatchling is not installed for --no-build-isolation")
    assert r.returncode == 0, r.stderr
    return next(out.glob("tgfeed-*.whl"))


def test_wheel_contains_templates_and_samples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "tgfeed/templates/base.html.j2",
        "tgfeed/templates/index.html.j2",
        "tgfeed/samples/articles.jsonl",
        "tgfeed/cli/__init__.py",
    ):
        assert needed in names, needed
    assert not any(n.startswith("tests/") for n in names)


def _site_dirs() -> list[str]:
    """The site-packages this interpreter imports from: its venv's (and the base's
    when that venv has system site packages), and the user's."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if Path(d).is_dir()]


def _venv_with_our_dependencies(env_dir: Path) -> Path:
    """A new venv that imports the dependencies from this interpreter's site-packages
    (a .pth, listed after its own: ``system_site_packages`` would see the *base*
    interpreter's, which inside a virtualenv lacks them). The .pth files there (an
    editable tgfeed) are not run, so only what is installed into the venv is tgfeed."""
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_tgfeed_test_deps.pth").write_text("\n".join(_site_dirs()) + "\n")
    return py


def test_demo_runs_from_a_plain_install(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    py = _venv_with_our_dependencies(env_dir)
    # not the source tree (PYTHONPATH=src while testing a worktree)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(
        [str(env_dir / "bin" / "tgfeed"), "demo", "--no-serve"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "52 added" in r.stdout
    assert (work / "tgfeed-demo" / "tgfeed.db").exists()
    assert (work / "tgfeed-demo" / "public" / "feeds" / "all.rss").exists()
    assert (work / "tgfeed-demo" / "public" / "index.html").exists()
    # the installed package, not the source tree, served the templates
    r2 = subprocess.run(
        [str(py), "-c", "import tgfeed.templating as t; print(t.package_templates())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
        env=env,
    )
    assert str(env_dir) in r2.stdout, r2.stdout
