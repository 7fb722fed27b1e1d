"""Assignments: a course's git repositories, each with its target folder, branch and depth."""
