#!/usr/bin/python3
"""Merge handbook2json.py outputs into one import file.

    merge_handbooks.py OUT IN.json...

Each input is one language of the Debian handbook; its chapter ids are
prefixed with the file's base name ("fr-FR/apt"), so that the languages
stay distinct chapters of one big book.  Prints the number of documents
and chapters written.
"""
import json
import os
import sys


def main():
    out, inputs = sys.argv[1], sys.argv[2:]
    docs = []
    for path in inputs:
        prefix = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            for doc in json.load(f):
                if set(doc) - {"chapter_id", "title", "content", "metadata"}:
                    sys.exit(f"{path}: unexpected keys {sorted(set(doc))}")
                doc["chapter_id"] = f"{prefix}/{doc['chapter_id']}"
                docs.append(doc)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(docs, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(docs), "documents in", len({d["chapter_id"] for d in docs}), "chapters")


if __name__ == "__main__":
    main()
