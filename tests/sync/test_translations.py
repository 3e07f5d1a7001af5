"""The gettext layer: English source, Chinese from a .po text, never a key."""

from __future__ import annotations

from sync.translations import Catalogue, Texts, parse_po

PO = r"""
msgid ""
msgstr ""
"Plural-Forms: nplurals=1; plural=0;\n"

#, python-format
msgid "Saved; %(n)d to sync."
msgstr "已保存，待同步 %(n)d 条。"

#, fuzzy
msgid "Half done"
msgstr "做了一半"

msgid "Not yet translated"
msgstr ""

msgid "One change"
msgid_plural "%(num)d changes"
msgstr[0] "%(num)d 处修改"

msgctxt "sync"
msgid "Sending"
msgstr "发送"

msgid ""
"A long sentence "
"over \"two\" lines"
msgstr ""
"分两行"
"的句子"

#~ msgid "Gone"
#~ msgstr "已删"
"""


def test_a_catalogue_translates_and_fills_placeholders():
    zh = Catalogue.from_po(PO)
    assert zh.gettext("Saved; %(n)d to sync.", n=3) == "已保存，待同步 3 条。"
    assert zh.ngettext("One change", "%(num)d changes", 5) == "5 处修改"
    assert zh.pgettext("sync", "Sending") == "发送"
    assert zh.gettext('A long sentence over "two" lines') == "分两行的句子"


def test_a_missing_fuzzy_or_empty_entry_shows_english_never_a_key():
    zh = Catalogue.from_po(PO)
    assert zh.gettext("Not in the catalogue at all") == "Not in the catalogue at all"
    assert zh.gettext("Half done") == "Half done"
    assert zh.gettext("Not yet translated") == "Not yet translated"
    assert zh.gettext("Gone") == "Gone"
    assert zh.pgettext("other", "Sending") == "Sending"
    assert zh.ngettext("One thing", "%(num)d things", 1) == "One thing"
    assert zh.ngettext("One thing", "%(num)d things", 2) == "2 things"


def test_english_is_the_source_and_an_unknown_language_is_chinese():
    asked = []

    def read(lang: str) -> str | None:
        asked.append(lang)
        return PO if lang == "zh" else None

    texts = Texts(read)
    assert texts("en").gettext("Saved; %(n)d to sync.", n=1) == "Saved; 1 to sync."
    assert texts("fr").gettext("Saved; %(n)d to sync.", n=1) == "已保存，待同步 1 条。"
    assert texts(None) is texts("zh")
    assert asked == ["zh"]  # read once, English never


def test_a_language_without_a_catalogue_shows_english():
    assert Texts(lambda lang: None)("zh").gettext("Sync") == "Sync"


def test_placeholders_that_do_not_fit_leave_the_sentence_readable():
    zh = Catalogue.from_po(PO)
    assert zh.gettext("Saved; %(n)d to sync.") == "已保存，待同步 %(n)d 条。"
    assert zh.gettext("Saved; %(n)d to sync.", other=1) == "已保存，待同步 %(n)d 条。"


def test_the_header_gives_the_plural_rule():
    assert parse_po(PO)[1] == "0"
    assert parse_po('msgid "a"\nmsgstr "b"\n') == ({"a": ["b"]}, "(n != 1)")


def test_a_package_folder_missing_a_sentence_shows_it_in_english(tmp_path):
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(PO, encoding="utf-8")
    texts = Texts.in_folder(tmp_path)
    assert texts("zh").gettext("Saved; %(n)d to sync.", n=2) == "已保存，待同步 2 条。"
    assert texts("zh").gettext("Added later, not yet translated") == (
        "Added later, not yet translated"
    )
    assert Texts.in_folder(tmp_path / "nowhere")("zh").gettext("Sync") == "Sync"
