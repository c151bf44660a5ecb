"""Reading the trainer's out-of-fold dump (`crossroads-train --dump <path>`)."""

import csv


def read_dump(path):
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            row["fold"] = int(row["fold"])
            row["read"] = row["read"] == "1"
            row["crisis"] = float(row["crisis"])
            row["advice"] = float(row["advice"])
            rows.append(row)
    return rows
