"""How a course's Hub groups are named: pure (no database), so the roster core uses it too."""

# A course's students are in the Hub group course-<slug>.
GROUP_PREFIX = "course-"
# A section's group is course-<slug>--<section>. A slug never holds the separator, so no section
# group of one course is another course's group (course-alpha + "lab" vs the course alpha-lab).
SECTION_SEPARATOR = "--"
