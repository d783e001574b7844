"""Tests for demo/handbook2json.py.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s demo/tests -v

The fixture in fixtures/html/en-US is a hand-made miniature of the real
handbook: index.html -> apt.html (chapter) -> sect.apt-get.html (section)
-> sect.apt-upgrade.html (a section whose "up" is the previous section).
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "handbook2json.py")
sys.path.insert(0, os.path.dirname(HERE))

import handbook2json  # noqa: E402  (needs the path set above)

FIXTURE_BASE = os.path.join(HERE, "fixtures", "html")
FIXTURE_LANG = os.path.join(FIXTURE_BASE, "en-US")
REAL_BASE = "/usr/share/doc/debian-handbook/html"
REAL_EN = os.path.join(REAL_BASE, "en-US")

ORDER = ["index.html", "apt.html", "sect.apt-get.html", "sect.apt-upgrade.html"]
NOISE = ["Download the ebook", "Product Site", "Documentation Site",
         "INDEXTERM"]
DOCNAV_WORDS = re.compile(r"\b(Prev|Next|Home|Up)\b")


class FixtureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.docs = handbook2json.convert(FIXTURE_LANG, "en-US")
        cls.by_page = {d["metadata"]["page"]: d for d in cls.docs}

    def test_one_document_per_page_in_reading_order(self):
        self.assertEqual([d["metadata"]["page"] for d in self.docs], ORDER)

    def test_chapter_assignment_including_nested_section(self):
        self.assertEqual(
            {p: d["chapter_id"] for p, d in self.by_page.items()},
            {"index.html": "index", "apt.html": "apt",
             "sect.apt-get.html": "apt",
             # its "up" is sect.apt-get.html, whose "up" is apt.html
             "sect.apt-upgrade.html": "apt"})

    def test_titles(self):
        self.assertEqual(
            [d["title"] for d in self.docs],
            ["The Tiny Handbook", "Chapter 6. The APT Tools",
             "6.2. apt-get & apt Commands", "6.2.1. System Upgrade"])

    def test_metadata(self):
        self.assertEqual(self.by_page["sect.apt-upgrade.html"]["metadata"], {
            "page": "sect.apt-upgrade.html", "language": "en-US",
            "chapter_title": "Chapter 6. The APT Tools",
            "source": "debian-handbook", "position": 2})
        self.assertEqual([d["metadata"]["position"] for d in self.docs],
                         [0, 0, 1, 2])
        self.assertEqual(self.by_page["index.html"]["metadata"]["chapter_title"],
                         "The Tiny Handbook")

    def test_text_contains_expected_sentences(self):
        self.assertIn("What makes Debian so popular with administrators is how "
                      "easily software can be installed.",
                      self.by_page["apt.html"]["content"])
        get = self.by_page["sect.apt-get.html"]["content"]
        self.assertIn("apt-get is the first front end — command-line based — "
                      "which was developed within the project.", get)
        self.assertIn("TIP Incremental updates\n\nSet Acquire::PDiffs to false:",
                      get)
        self.assertIn("- apt install package installs;\n\n"
                      "- apt remove package removes.", get)
        self.assertIn("Command | Effect\nupdate | refresh the lists", get)

    def test_whole_page_text(self):
        # Source lines inside a paragraph are joined; ordered lists numbered.
        self.assertEqual(
            self.by_page["sect.apt-upgrade.html"]["content"],
            "6.2.1. System Upgrade\n\n"
            "Regular upgrades are recommended, because they include the "
            "latest security updates.\n\n"
            "1. Run apt update.\n\n2. Run apt upgrade.")

    def test_navigation_toc_and_indexterms_absent(self):
        for doc in self.docs:
            for noise in NOISE:
                self.assertNotIn(noise, doc["content"], doc["metadata"]["page"])
            self.assertNotRegex(doc["content"], DOCNAV_WORDS)
        # The tables of contents list section titles; they must not be text.
        self.assertNotIn("6.2. apt-get Commands", self.by_page["index.html"]["content"])
        self.assertNotIn("apt-get", self.by_page["apt.html"]["content"])
        self.assertEqual(self.by_page["index.html"]["content"],
                         "The Tiny Handbook\n\nA Fixture from Discovery to "
                         "Mastery\n\nRaphaël Hertzog\n\nCopyright © 2022 "
                         "Raphaël Hertzog")

    def test_entities_decoded_and_non_ascii_kept(self):
        get = self.by_page["sect.apt-get.html"]["content"]
        self.assertIn('Compare <package> & "package source"; Raphaël says '
                      'café, 日本語 and العربية are fine.', get)
        for doc in self.docs:
            self.assertNotRegex(doc["content"], r"&[a-zA-Z#][a-zA-Z0-9]*;")
            self.assertNotIn("\xa0", doc["content"])   # &nbsp; normalised

    def test_pre_block_keeps_lines(self):
        get = self.by_page["sect.apt-get.html"]["content"]
        block = ('$ sudo apt -o "Acquire::PDiffs=false" update\n'
                 "Hit:1 http://deb.debian.org/debian bullseye InRelease\n"
                 "\n"
                 "Reading package lists... Done\n"
                 "  indented   line")
        self.assertIn("\n\n" + block + "\n\n", get)
        # Leading/trailing blank lines of a <pre> are trimmed.
        self.assertTrue(self.by_page["apt.html"]["content"].endswith(
            "\n\ndeb https://deb.debian.org/debian bullseye main"))

    def test_no_markup_or_control_characters(self):
        for doc in self.docs:
            self.assertNotIn("<div", doc["content"])
            self.assertNotIn("<code", doc["content"])
            self.assertIsNone(re.search(r"[\x00-\x08\x0b-\x1f\x7f]", doc["content"]))
            self.assertNotIn("\n\n\n", doc["content"])
            self.assertEqual(doc["content"], doc["content"].strip())

    def test_convert_page_alone_matches_convert(self):
        for page in ORDER:
            self.assertEqual(
                handbook2json.convert_page(os.path.join(FIXTURE_LANG, page), "en-US"),
                self.by_page[page])

    def test_max_pages(self):
        docs = handbook2json.convert(FIXTURE_LANG, "en-US", max_pages=2)
        self.assertEqual([d["metadata"]["page"] for d in docs], ORDER[:2])

    def test_broken_next_chain_falls_back_to_sorted_names(self):
        with tempfile.TemporaryDirectory() as tmp:
            lang_dir = os.path.join(tmp, "en-US")
            shutil.copytree(FIXTURE_LANG, lang_dir)
            # Make the chain loop back after apt.html: nothing may be lost.
            path = os.path.join(lang_dir, "apt.html")
            with open(path, encoding="utf-8") as f:
                html = f.read()
            html = html.replace('<link rel="next" href="sect.apt-get.html"',
                                '<link rel="next" href="index.html"')
            with open(path, "w", encoding="utf-8") as f:
                f.write(html)
            docs = handbook2json.convert(lang_dir, "en-US")
        self.assertEqual([d["metadata"]["page"] for d in docs],
                         ["index.html", "apt.html",
                          "sect.apt-get.html", "sect.apt-upgrade.html"])
        self.assertEqual([d["chapter_id"] for d in docs],
                         ["index", "apt", "apt", "apt"])

    def test_list_languages_skips_non_content_dirs(self):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(FIXTURE_LANG, os.path.join(tmp, "fr-FR"))
            shutil.copytree(FIXTURE_LANG, os.path.join(tmp, "Common_Content"))
            os.mkdir(os.path.join(tmp, "images"))
            self.assertEqual(handbook2json.list_languages(tmp), ["fr-FR"])


class CommandLineTest(unittest.TestCase):

    def run_cli(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args],
                              capture_output=True, timeout=120)

    def test_output_is_valid_json_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.json")
            proc = self.run_cli("--dir", FIXTURE_BASE, "--lang", "en-US", "-o", out)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            with open(out, "rb") as f:
                raw = f.read()
        data = json.loads(raw.decode("utf-8"))   # strict UTF-8
        self.assertEqual(data, handbook2json.convert(FIXTURE_LANG, "en-US"))

    def test_stdout_and_pages_option(self):
        proc = self.run_cli("--dir", FIXTURE_BASE, "--pages", "3")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        data = json.loads(proc.stdout.decode("utf-8"))
        self.assertEqual([d["metadata"]["page"] for d in data], ORDER[:3])

    def test_list_languages(self):
        proc = self.run_cli("--dir", FIXTURE_BASE, "--list-languages")
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout.decode().split(), ["en-US"])

    def test_missing_directory_exits_2_with_hint(self):
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            code = handbook2json.main(["--dir", "/nonexistent/handbook"])
        self.assertEqual(code, 2)
        self.assertIn("apt-get install debian-handbook", err.getvalue())
        proc = self.run_cli("--dir", FIXTURE_BASE, "--lang", "xx-XX")
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"apt-get install debian-handbook", proc.stderr)


@unittest.skipUnless(os.path.isdir(REAL_EN), "debian-handbook is not installed")
class RealHandbookTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.docs = handbook2json.convert(REAL_EN, "en-US")

    def test_sane_counts_and_ids(self):
        pages = [d["metadata"]["page"] for d in self.docs]
        html_files = [n for n in os.listdir(REAL_EN) if n.endswith(".html")]
        self.assertEqual(sorted(pages), sorted(html_files))
        self.assertGreaterEqual(len(self.docs), 120)
        chapters = {d["chapter_id"] for d in self.docs}
        self.assertTrue(15 <= len(chapters) <= 30, len(chapters))
        for doc in self.docs:
            cid = doc["chapter_id"]
            self.assertTrue(1 <= len(cid) <= 200, cid)
            self.assertIsNone(re.search(r"[\x00-\x1f\x7f]", cid), cid)
            self.assertTrue(doc["title"] and doc["content"], doc["metadata"])
            self.assertEqual(doc["metadata"]["language"], "en-US")
        self.assertEqual(self.docs[0]["metadata"]["page"], "index.html")

    def test_apt_chapter(self):
        apt = [d for d in self.docs if d["chapter_id"] == "apt"]
        self.assertEqual(apt[0]["metadata"]["page"], "apt.html")
        self.assertEqual([d["metadata"]["position"] for d in apt],
                         list(range(len(apt))))
        get = [d for d in apt if d["metadata"]["page"] == "sect.apt-get.html"]
        self.assertEqual(len(get), 1)
        self.assertEqual(get[0]["title"], "6.2. aptitude, apt-get, and apt Commands")
        self.assertIn("apt-get", get[0]["content"])
        self.assertNotIn("Download the ebook", get[0]["content"])
        self.assertTrue(get[0]["metadata"]["chapter_title"].startswith("Chapter 6."))


if __name__ == "__main__":
    unittest.main()
