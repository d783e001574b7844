-- A: the extension's per-chapter totals, every chapter of the book in
-- reading order, then chapters that have progress but no documents.
SELECT * FROM textbook.chapter_progress()
