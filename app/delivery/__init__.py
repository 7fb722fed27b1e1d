"""Delivery: distributing an assignment to students, one queued delivery per student."""
