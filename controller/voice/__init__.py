"""Voice announcements: Mandarin text (text.py), audio backends and one playback queue."""

from controller.voice.text import Announcement, announcement, digits_zh, number_zh

__all__ = ["Announcement", "announcement", "digits_zh", "number_zh"]
