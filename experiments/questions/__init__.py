"""The research questions (docs/ODD.md §1.1) as experiments: one or two experiment files per question,
each in a ``quick`` size (seconds; used by the tests and the notebooks) and a ``paper`` size (enough
replications for tight intervals).

Files: ``experiments/questions/<experiment>.<size>.toml``, ordinary experiment files (see
:mod:`aimarket.experiments.sweeps.spec`) that ``aimarket sweep`` runs as they are; Q1 also runs Sutton's two
textbook cases, ``experiments/validation/sutton_<case>.<size>.toml`` (docs/ODD.md §8.2), so that its
bounds figure can set the two regimes beside them. A question's experiments:

====  =================================================================  ==========================
id    experiments                                                        notebook
====  =================================================================  ==========================
q1    q1_concentration_pretraining, q1_concentration_inference,          q1_concentration.ipynb
      sutton_exogenous, sutton_endogenous
q2    q2_agi_price                                                       q2_agi_price.ipynb
q3    q3_governance                                                      q3_governance.ipynb
q4    q4_open_weights                                                    q4_open_weights.ipynb
q5    q5_ida                                                             q5_ida.ipynb
q6    q6_energy                                                          q6_energy.ipynb
====  =================================================================  ==========================

Results layout: one *results root* per size (``results/quick``, ``results/paper``) holding one sweep
folder per experiment, named after it (``results/quick/q3_governance``...). :func:`find_sweeps`
recognises a sweep folder by the experiment file recorded in its manifest, so folders may be renamed;
``aimarket figures`` and ``aimarket report`` accept a results root or a single sweep folder.

Run them with ``aimarket questions run q1|...|all --size quick|paper --out results/<size>`` (or
``python -m aimarket.experiments.questions run ...``), or from Python with :func:`run`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aimarket.resources import questions_folder, validation_folder
from aimarket.simulation.errors import UserInputError

#: Folder of the experiment files (this package).
FOLDER = questions_folder()  # found with importlib.resources: aimarket/experiments/questions once installed
SIZES = ("quick", "paper")
_FILE = re.compile(r"^([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)\.toml$")
#: Sutton's textbook cases (docs/ODD.md §8.2): experiments of Q1 whose files are in experiments/validation/.
TEXTBOOK_CASES = ("sutton_exogenous", "sutton_endogenous")


@dataclass(frozen=True)
class Question:
    """One research question: its id (``q1``), short name, title, the question as asked, the
    experiments that answer it and its notebook."""

    id: str
    slug: str
    title: str
    text: str
    experiments: tuple[str, ...]

    @property
    def notebook(self) -> str:
        return f"{self.id}_{self.slug}.ipynb"

    def files(self, size: str = "quick") -> list[Path]:
        """The experiment files of this question in ``size``."""
        return [experiment_file(name, size) for name in self.experiments]


QUESTIONS: dict[str, Question] = {
    q.id: q
    for q in (
        Question(
            "q1",
            "concentration",
            "Industry concentration",
            "How do HHI, CR4 and the number of surviving labs evolve when the marginal capability gain comes "
            "from pre-training (a fixed, sunk cost) versus inference at deployment (a marginal cost per "
            "task)? Does concentration fall with market size in one regime and stay bounded away from zero "
            "in the other (Sutton's endogenous-sunk-cost bound)?",
            ("q1_concentration_pretraining", "q1_concentration_inference", *TEXTBOOK_CASES),
        ),
        Question(
            "q2",
            "agi_price",
            "The price of AGI",
            "When the first system reaches human level on a task type, what does one task cost relative to "
            "the human wage for it, how many copies can be served at once, and how long until the AI cost "
            "falls below the wage?",
            ("q2_agi_price",),
        ),
        Question(
            "q3",
            "governance",
            "Governance by compute thresholds",
            "Under a training-compute threshold (EU AI Act 1e25 FLOP, US EO 1e26 FLOP), what share of "
            "frontier-capable usage escapes regulation because capability came from inference? How does an "
            "effective-compute threshold (training plus inference) compare?",
            ("q3_governance",),
        ),
        Question(
            "q4",
            "open_weights",
            "Open weights and model-weight security",
            "How much are weights worth (training cost avoided) when most of a model's lifetime cost is "
            "inference? How far behind the frontier do open models sit?",
            ("q4_open_weights",),
        ),
        Question(
            "q5",
            "ida",
            "Inference during training (IDA)",
            "Does iterated distillation and amplification revive pre-training scaling past a data wall, and "
            "what does it do to concentration and to threshold governance?",
            ("q5_ida",),
        ),
        Question(
            "q6",
            "energy",
            "Data centres and energy",
            "How does the power drawn by the largest single training site compare with the energy used by "
            "distributed inference, over time?",
            ("q6_energy",),
        ),
    )
}

#: experiment name -> question id
EXPERIMENTS: dict[str, str] = {name: q.id for q in QUESTIONS.values() for name in q.experiments}


def get(question: str) -> Question:
    """The question ``q1``..``q6`` (also accepts ``1`` or the notebook stem ``q1_concentration``)."""
    key = str(question).strip().lower()
    if key.isdigit():
        key = f"q{key}"
    for q in QUESTIONS.values():
        if key in (q.id, f"{q.id}_{q.slug}"):
            return q
    raise UserInputError(f"unknown question {question!r} (allowed: {', '.join(QUESTIONS)}, all)")


def select(question: str | None) -> list[Question]:
    """Every question for ``None`` or ``"all"``, else the one named."""
    if question is None or str(question).strip().lower() == "all":
        return list(QUESTIONS.values())
    return [get(question)]


def experiment_file(name: str, size: str = "quick") -> Path:
    """``experiments/questions/<name>.<size>.toml`` (``experiments/validation/`` for Sutton's cases)."""
    if name not in EXPERIMENTS:
        raise UserInputError(f"unknown experiment {name!r} (allowed: {', '.join(EXPERIMENTS)})")
    if size not in SIZES:
        raise UserInputError(f"unknown size {size!r} (allowed: {', '.join(SIZES)})")
    folder = validation_folder() if name in TEXTBOOK_CASES else FOLDER
    return folder / f"{name}.{size}.toml"


def parse_file_name(file_name: str) -> tuple[str, str] | None:
    """``(experiment, size)`` of an experiment file name such as ``q3_governance.quick.toml``."""
    m = _FILE.match(Path(str(file_name)).name)
    if m is None or m.group(1) not in EXPERIMENTS:
        return None
    return m.group(1), m.group(2)


def identify(folder: str | Path) -> tuple[str, str | None] | None:
    """``(experiment, size)`` of the sweep folder ``folder`` (from the experiment file named in its
    manifest, else from the folder's name), or None if it holds no research-question sweep."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    parsed = parse_file_name(str(manifest.get("experiment_file", "")))
    if parsed is not None:
        return parsed
    if folder.name in EXPERIMENTS:
        return folder.name, None
    return None


def find_sweeps(path: str | Path) -> dict[str, Path]:
    """The research-question sweeps under ``path`` as ``{experiment name: folder}``.

    ``path`` is a results root (its sub-folders are searched, one level deep) or one sweep folder.
    Raises :class:`UserInputError` when ``path`` is not a folder or holds two sweeps of one experiment
    (for example its quick and paper sizes: keep one results root per size).
    """
    path = Path(path)
    if not path.is_dir():
        raise UserInputError(f"{path}: not a folder (give a results folder, e.g. results/quick)")
    if (path / "manifest.json").is_file():
        candidates = [path]
    else:
        candidates = sorted(p for p in path.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    found: dict[str, Path] = {}
    for folder in candidates:
        ident = identify(folder)
        if ident is None:
            continue
        name = ident[0]
        if name in found:
            raise UserInputError(
                f"{path}: two sweeps of {name} ({found[name].name} and {folder.name}); keep one results "
                "folder per size"
            )
        found[name] = folder
    return found


def results_folder(root: str | Path, name: str) -> Path:
    """Where :func:`run` puts the sweep of experiment ``name`` under the results root ``root``."""
    return Path(root) / name


def run(
    question: str | None = "all",
    size: str = "quick",
    out: str | Path | None = None,
    workers: int | None = None,
    resume: bool = True,
    on_report=None,
    **options,
) -> dict:
    """Run the experiments of ``question`` (``q1``..``q6`` or ``all``) in ``size`` into the results
    root ``out`` (default ``results/<size>``), one sweep folder per experiment. With ``resume``
    (default) finished runs are kept, so calling it again on a complete root runs nothing.
    ``options`` go to :func:`experiments.sweep` (``scheduler=``, ``progress=``...); ``on_report(question,
    report)`` is called after each sweep. Returns ``{experiment name: SweepReport}``."""
    from aimarket.experiments.sweeps.session import sweep

    root = Path(out) if out is not None else Path("results") / size
    reports = {}
    for q in select(question):
        for name in q.experiments:
            path = experiment_file(name, size)
            reports[name] = sweep(path, results_folder(root, name), workers=workers, resume=resume, **options)
            if on_report is not None:
                on_report(q, reports[name])
    return reports


__all__ = [
    "Question",
    "QUESTIONS",
    "EXPERIMENTS",
    "SIZES",
    "FOLDER",
    "TEXTBOOK_CASES",
    "get",
    "select",
    "experiment_file",
    "parse_file_name",
    "identify",
    "find_sweeps",
    "results_folder",
    "run",
]
