"""Ateliers: the HTTP backend of a continuing-education body's training sessions."""
