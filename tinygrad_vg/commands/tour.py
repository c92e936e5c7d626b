"""tour: four questions about vanishing and exploding gradients, each answered by its lesson's real run.

Short answer: the lessons q1-q4 of examples/, run one after the other with their own defaults and
shown one after the other: weights a bit off the identity compound over depth (q1), training does
not repair the shallow layers (q2), an overflow leaves backward nothing to fix (q3), and a bounded
tanh still explodes when sigma_w is large (q4). Each section is that lesson's run(), not a copy of
it: `python examples/q2_training_does_not_fix_it.py --help` shows what each one can change.

Run:  tinygrad-vg [tour] [--json] [--plot tour.png] [--html tour.html]
"""
import sys
import textwrap

from ..examples import q1_identity_chain, q2_training_does_not_fix_it, q3_overflow_halts_training, q4_tanh_explodes
from ..script import experiment, main, title_and_description

# (lesson, the options its run gets): each lesson's defaults take well under two seconds, so the tour
# keeps them; a lesson that grew slower would get smaller options here, never a copy of its experiment
LESSONS = [(q1_identity_chain, {}), (q2_training_does_not_fix_it, {}), (q3_overflow_halts_training, {}),
           (q4_tanh_explodes, {})]


def arguments(parser):
    """The tour has no flags of its own: each lesson's script takes its own."""


def question_and_short_answer(lesson):
    """The docstring's first line, and its "Short answer:" paragraph."""
    question, rest = title_and_description(lesson)
    short_answer = rest.split("\n\n")[0].split()
    return question, " ".join(short_answer)


@experiment
def run():
    sections = []
    for lesson, options in LESSONS:
        question, short_answer = question_and_short_answer(lesson)
        sections.append({"lesson": lesson.__name__.rsplit(".", 1)[-1], "question": question,
                         "short_answer": short_answer, "options": options, "result": dict(lesson.run(**options))})
    return {"command": "tour", "sections": sections}


def lessons_and_sections(result):
    modules = {lesson.__name__.rsplit(".", 1)[-1]: lesson for lesson, _ in LESSONS}
    return [(modules[section["lesson"]], section) for section in result["sections"]]


def show(result):
    lines = ["tinygrad-vg: vanishing and exploding gradients, measured beside theory  (`tinygrad-vg --help` for more)"]
    for n, (lesson, section) in enumerate(lessons_and_sections(result), 1):
        lines += ["", f"{n}. {section['question']}",
                  *textwrap.wrap(section["short_answer"], 100, initial_indent="   ", subsequent_indent="   "),
                  f"   (python examples/{section['lesson']}.py; --help for its options)", ""]
        lines += ["   " + line if line else "" for line in lesson.show(section["result"]).splitlines()]
    return "\n".join(lines)


def figure(result):
    """Each lesson's panels in order, numbered by section; a section's first panel names its question,
    so that the page reads as the text does."""
    panels = []
    for n, (lesson, section) in enumerate(lessons_and_sections(result), 1):
        for k, panel in enumerate(lesson.figure(section["result"])):
            heading = section["question"] + " — " if k == 0 else f"{n}. "
            panels.append({**panel, "title": heading + panel["title"]})
    return panels


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
