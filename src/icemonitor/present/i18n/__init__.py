"""Per-language text (message catalogs) and number/date formatting for reports."""

from icemonitor.present.i18n.catalog import LANGS, messages
from icemonitor.present.i18n.format import format_count, format_date, format_number, format_percent, parse_number

__all__ = ["LANGS", "messages", "format_count", "format_date", "format_number", "format_percent", "parse_number"]
