"""Understanding quality and speed: the built-in analyzer on the held-out test set and the dev set.

Run ``python benchmarks/understanding.py --quick`` (a few seconds on 2 cores)
or without ``--quick`` for a longer throughput run. Progress goes to stderr;
the last line on stdout is one JSON object with the figures.

Three labelled sets live in ``tests/data/understanding/`` (see the README
there):

- ``test_{en,ko,tr}.jsonl``: written blind (without looking at the lexicons)
  and never used for tuning. The headline figures come from this set.
- ``dev_{en,ko,tr}.jsonl``: the development set; the lexicons were adjusted
  after looking at its errors, so its figures are optimistic. Reported under
  ``"dev"``.
- ``train_{en,ko,tr}.jsonl``: the training set, written for the second round
  of lexicon work (short and slang messages, defects described plainly,
  questions naming problems); fitted to, so its figures are the most
  optimistic. Reported under ``"train"``.

1. **Quality**, per language (English, Korean, Turkish), with the product
   catalogue ``catalogue.json`` and language *detected* per message as in
   production:

   - ``intent_accuracy``: share of messages given the labelled intent;
   - ``sentiment_accuracy``: share given the labelled polarity
     (negative / neutral / positive);
   - ``entity_precision`` / ``entity_recall`` / ``entity_f1``: over
     ``(type, normalised value)`` pairs, micro-averaged per language;
   - ``language_accuracy``: detection.

   The top-level figures (and those under ``"dev"`` and ``"train"``) are macro averages over
   the three languages.

2. **Throughput** (``msgs_per_s``): ``Analyzer.analyze`` (language detection,
   tokenising, intent, entities, sentiment and aspects) over the test-set
   messages, cycled to ``messages`` per round; ``rounds`` timed rounds after
   one untimed warm-up round, median reported. The word-analysis cache is
   warm after the warm-up, as it is in a long-running process. The baseline,
   timed the same way in alternating order, is the floor cost of touching
   each message at all: ``text.lower().split()``. ``msgs_per_s_ratio`` is
   ours ÷ baseline (a small number: it says how many times dearer than a
   bare split the analysis is).

Goals from the issue: intent >= 0.85, sentiment >= 0.80, entity F1 >= 0.9,
>= 5,000 msgs/s. ``goals_met`` compares the test-set figures; they are
printed as measured, met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from chatkit.understanding import Analyzer, Product, ProductCatalogue
from chatkit.understanding.evaluation import LabelledMessage, evaluate, read_labelled

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "understanding"
LANGUAGES = ("en", "ko", "tr")
SETS = ("test", "dev", "train")
GOALS = {"intent_accuracy": 0.85, "sentiment_accuracy": 0.80, "entity_f1": 0.9, "msgs_per_s": 5000}


def log(text: str) -> None:
    """A progress line on stderr (stdout carries only the JSON result)."""
    print(text, file=sys.stderr, flush=True)


def load() -> tuple[Analyzer, dict[str, dict[str, list[LabelledMessage]]]]:
    """The analyzer with the evaluation catalogue, and the labelled messages by set and language."""
    products = json.loads((DATA / "catalogue.json").read_text(encoding="utf-8"))["products"]
    catalogue = ProductCatalogue([Product.model_validate(p) for p in products])
    sets = {
        name: {
            code: read_labelled(DATA / f"{name}_{code}.jsonl", language=code) for code in LANGUAGES
        }
        for name in SETS
    }
    return Analyzer(catalogue=catalogue), sets


def quality(
    analyzer: Analyzer, name: str, sets: dict[str, list[LabelledMessage]]
) -> dict[str, Any]:
    """Per-language and macro-averaged quality figures on the set ``name``."""
    per_language: dict[str, dict[str, Any]] = {}
    for code, examples in sets.items():
        report = evaluate(examples, analyzer)
        per_language[code] = {
            "messages": report.messages,
            "intent_accuracy": round(report.intent_accuracy, 4),
            "sentiment_accuracy": round(report.sentiment_accuracy, 4),
            "entity_precision": round(report.entity_precision, 4),
            "entity_recall": round(report.entity_recall, 4),
            "entity_f1": round(report.entity_f1, 4),
            "language_accuracy": round(report.language_accuracy or 0.0, 4),
        }
        log(
            f"{name} {code}: {report.messages} messages, intent {report.intent_accuracy:.3f}, "
            f"sentiment {report.sentiment_accuracy:.3f}, entities P/R/F1 "
            f"{report.entity_precision:.3f}/{report.entity_recall:.3f}/{report.entity_f1:.3f}, "
            f"language {report.language_accuracy:.3f}"
        )
        for (expected, got), count in report.confusions.most_common(3):
            log(f"    intent confusion {expected} -> {got}: {count}")
    keys = ("intent_accuracy", "sentiment_accuracy", "entity_f1")
    macro = {k: round(statistics.fmean(v[k] for v in per_language.values()), 4) for k in keys}
    return {**macro, "per_language": per_language}


def throughput(analyzer: Analyzer, texts: list[str], messages: int, rounds: int) -> dict[str, Any]:
    """Median msgs/s of the analyzer and of the lower+split baseline."""
    batch = [texts[i % len(texts)] for i in range(messages)]

    def ours() -> float:
        analyze = analyzer.analyze
        started = time.perf_counter()
        for text in batch:
            analyze(text)
        return len(batch) / (time.perf_counter() - started)

    def baseline() -> float:
        started = time.perf_counter()
        for text in batch:
            text.lower().split()
        return len(batch) / (time.perf_counter() - started)

    ours()  # warm-up: word-analysis caches and regular expressions
    baseline()
    rates: dict[str, list[float]] = {"ours": [], "baseline": []}
    for n in range(rounds):
        order = (("ours", ours), ("baseline", baseline))
        for name, run in order if n % 2 == 0 else tuple(reversed(order)):
            rates[name].append(run())
        log(
            f"round {n + 1}/{rounds}: analyzer {rates['ours'][-1]:,.0f} msgs/s, "
            f"lower+split {rates['baseline'][-1]:,.0f} msgs/s"
        )
    ours_rate = statistics.median(rates["ours"])
    base_rate = statistics.median(rates["baseline"])
    return {
        "msgs_per_s": round(ours_rate),
        "baseline_msgs_per_s": round(base_rate),
        "msgs_per_s_ratio": round(ours_rate / base_rate, 5),
        "rounds_msgs_per_s": [round(r) for r in rates["ours"]],
        "messages_per_round": len(batch),
        "rounds": rounds,
    }


def main() -> None:
    """Parse arguments, run, print the JSON line last."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    messages, rounds = (5_000, 5) if args.quick else (50_000, 7)
    started = time.perf_counter()
    analyzer, sets = load()
    result: dict[str, Any] = {"benchmark": "understanding", "quick": args.quick}
    result.update(quality(analyzer, "test", sets["test"]))
    result["dev"] = quality(analyzer, "dev", sets["dev"])
    result["train"] = quality(analyzer, "train", sets["train"])
    texts = [example.text for examples in sets["test"].values() for example in examples]
    result.update(throughput(analyzer, texts, messages, rounds))
    result["goals_met"] = {k: result[k] >= goal for k, goal in GOALS.items()}
    result.update(python=platform.python_version(), cpus=os.cpu_count())
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
