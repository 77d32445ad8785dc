"""Handing feedback back: `python -m autograder feedback --workspace WS [--archive]`.

Every feedback page is rewritten from its result record and the gradebook (hand scores,
comments, late penalty), in nbgrader's layout `WS/feedback/<student>/<assignment>/` next to
the `timestamp.txt` and `submission_secret.txt` that `nbgrader release_feedback` reads, so
nbgrader's exchange can deliver them. With --archive, one zip per student
(`WS/feedback-archives/<student>.zip`, `<assignment>/<assignment>.html` inside) for courses
that hand files back some other way. Nothing but the feedback pages goes into an archive.
"""
import zipfile
from pathlib import Path

from . import feedback, totals


def hand_back(workspace, db_url=None, archive=False):
    from .gradebook import manual_grades, open_gradebook
    workspace = Path(workspace).resolve()
    with open_gradebook(db_url or f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        hand = manual_grades(gb)
        totals.refresh(workspace, gb)
    pages = {}
    for record in totals.load_records(workspace):
        key = (record["student_id"], record["assignment"])
        path = feedback.write_page(workspace, record, hand.get(key))
        pages.setdefault(record["student_id"], []).append((record["assignment"], path))
    archives = 0
    if archive:
        folder = workspace / "feedback-archives"
        folder.mkdir(exist_ok=True)
        for student, entries in sorted(pages.items()):
            tmp = folder / f".{student}.zip.tmp"
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for slug, path in sorted(entries):
                    info = zipfile.ZipInfo(f"{slug}/{slug}.html", date_time=(2020, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, path.read_bytes())
            tmp.replace(folder / f"{student}.zip")
            archives += 1
    return {"pages": sum(len(v) for v in pages.values()), "archives": archives}
