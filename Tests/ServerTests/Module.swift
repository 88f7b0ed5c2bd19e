// Tests for this module live in this folder.
