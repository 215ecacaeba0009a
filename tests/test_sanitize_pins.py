"""What the sanitiser promises (tgfeed.sanitize): safe, XML-clean, NFC HTML for a
feed, a web page and an email, and the plain text of it."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from tgfeed.sanitize import (
    allowed_attributes,
    allowed_tags,
    paragraphs_html,
    sanitize_html,
    settle_markup,
    text_of,
)

BASE = "https://baotayninh.vn/tin/"


def xml_parses(fragment: str) -> None:
    etree.fromstring(f"<div>{fragment}</div>".encode())


@pytest.mark.parametrize(
    "reference", ["&#1;", "&#x1;", "&#8;", "&#x0B;", "&#12;", "&#x1F;", "&#127;", "&#xFFFE;"]
)
def test_control_character_reference_never_reaches_the_output(reference: str) -> None:
    """nh3 decodes the reference; the final cleaning after it removes the character,
    which would make a feed invalid XML."""
    out = sanitize_html(f"<p>Tây{reference}Ninh</p>")
    assert out == "<p>TâyNinh</p>"
    out = sanitize_html(f"<p>Tay{reference}Ninh</p>")  # all ASCII: the fast path
    assert out == "<p>TayNinh</p>"
    xml_parses(out)


def test_control_character_in_an_attribute_is_removed() -> None:
    out = sanitize_html('<a href="https://x.vn/" title="a&#1;b">x</a>')
    assert 'title="ab"' in out
    xml_parses(out)


def test_raw_control_characters_and_carriage_returns_are_removed() -> None:
    assert sanitize_html("<p>a\x01b\x7fc</p>") == "<p>abc</p>"
    assert sanitize_html("<p>a\r\nb\rc</p>") == "<p>a\nb\nc</p>"


def test_output_is_nfc_text_node_by_text_node() -> None:
    assert sanitize_html("<p>Cafe\u0301 Tây Ninh</p>") == "<p>Café Tây Ninh</p>"
    # A text node starting with a combining mark: written as a reference, so it can
    # never compose with the ">" before it.
    assert sanitize_html("<p><b>x</b>\u0338y</p>") == "<p><b>x</b>&#x338;y</p>"
    out = sanitize_html('<a href="https://x.vn/" title="Cafe\u0301">x</a>')
    assert 'title="Café"' in out


def test_script_is_dropped_with_its_content() -> None:
    out = sanitize_html("<p>Trước<script>alert('x')</script>sau</p>")
    assert out == "<p>Trướcsau</p>"


@pytest.mark.parametrize("tag", ["script", "style", "iframe", "object", "noscript", "template"])
def test_active_and_hidden_elements_are_dropped_with_their_content(tag: str) -> None:
    assert sanitize_html(f"<p>a</p><{tag}>bí mật</{tag}><p>b</p>") == "<p>a</p><p>b</p>"


def test_comments_are_dropped() -> None:
    assert sanitize_html("<p>a<!-- ghi chú -->b</p>") == "<p>ab</p>"


def test_outlook_conditional_comments_are_dropped_with_their_content() -> None:
    source = (
        "<p>a<!--[if mso]><table><tr><td>chỉ Outlook</td></tr></table><![endif]-->b</p>"
        "<!--[if !mso]><!--><p>c</p><!--<![endif]-->"
    )
    out = sanitize_html(source)
    assert "Outlook" not in out and "<!--" not in out and "[if" not in out
    assert out == "<p>ab</p><p>c</p>"


def test_links_get_rel_noopener_noreferrer() -> None:
    out = sanitize_html('<a href="https://x.vn/a" target="_blank" rel="opener">l</a>')
    assert out == '<a href="https://x.vn/a" rel="noopener noreferrer">l</a>'


def test_image_keeps_its_alt_text() -> None:
    out = sanitize_html('<img src="https://x.vn/a.jpg" alt="Ảnh: Hồ Dầu Tiếng" onerror="x()">')
    assert out == '<img src="https://x.vn/a.jpg" alt="Ảnh: Hồ Dầu Tiếng">'


def test_handlers_and_javascript_urls_are_dropped() -> None:
    out = sanitize_html('<p onclick="x()">a <a href="javascript:alert(1)">b</a></p>')
    assert out == '<p>a <a rel="noopener noreferrer">b</a></p>'


def test_relative_links_resolve_against_the_base() -> None:
    out = sanitize_html('<a href="bai-2.html">x</a><img src="/a.jpg">', BASE)
    assert 'href="https://baotayninh.vn/tin/bai-2.html"' in out
    assert 'src="https://baotayninh.vn/a.jpg"' in out


def test_relative_links_without_a_base_are_dropped() -> None:
    assert sanitize_html('<a href="bai-2.html">x</a>') == '<a rel="noopener noreferrer">x</a>'


def test_an_unusable_base_is_ignored_not_fatal() -> None:
    out = sanitize_html('<p>a <a href="https://x.vn/">b</a></p>', "http://exa mple/")
    assert out == '<p>a <a href="https://x.vn/" rel="noopener noreferrer">b</a></p>'


def test_images_drop_and_https_only() -> None:
    source = '<p>a</p><img src="http://x.vn/a.jpg"><img src="https://x.vn/b.jpg"><img src="/c.jpg">'
    assert sanitize_html(source, BASE, images="drop") == "<p>a</p>"
    out = sanitize_html(source, BASE, images="https-only")
    assert re.findall(r'src="([^"]*)"', out) == [
        "https://x.vn/b.jpg",
        "https://baotayninh.vn/c.jpg",
    ]
    out = sanitize_html(source, "http://x.vn/", images="https-only")
    assert re.findall(r'src="([^"]*)"', out) == ["https://x.vn/b.jpg"]
    assert "<img" in sanitize_html('<img src="HTTPS://x.vn/d.jpg">', images="https-only")
    assert "data:" not in sanitize_html('<img src="data:image/png;base64,AA">', BASE, "https-only")


def test_images_https_only_leaves_other_attributes_alone() -> None:
    out = sanitize_html(
        '<a href="http://x.vn/" title="t">l</a><img src="https://x.vn/a.jpg" alt="b">',
        images="https-only",
    )
    assert 'href="http://x.vn/"' in out and 'title="t"' in out and 'alt="b"' in out


def test_nbsp_becomes_a_space_and_empty_paragraphs_go() -> None:
    assert sanitize_html("<p>&nbsp;</p><p> <br> </p><p>a\u00a0b&nbsp;c</p>") == "<p>a b c</p>"
    assert sanitize_html("  <p>a</p>  ") == "<p>a</p>"


def test_amp_and_angle_brackets_stay_escaped_in_html() -> None:
    assert sanitize_html("<p>a &amp; b &lt;c&gt;</p>") == "<p>a &amp; b &lt;c&gt;</p>"


def test_settle_markup_leaves_settled_markup_as_it_is() -> None:
    for markup in ("<p>a</p>", "<p>Tây Ninh</p>", '<a title="Café">x</a>', "x > y"):
        assert settle_markup(markup) == markup
    assert settle_markup('<a title="a\x01b">x\x02</a>') == '<a title="ab">x</a>'
    assert settle_markup("a\u0301<b>\u0301</b>") == "á<b>&#x301;</b>"


def test_text_of_unescapes_entities() -> None:
    assert text_of("<p>a &amp; b &lt;c&gt; &quot;d&quot;</p>") == 'a & b <c> "d"'


def test_text_of_br_and_paragraph_breaks() -> None:
    """A <br> keeps the words apart on one line; a block end is a paragraph break."""
    assert text_of("<p>Dòng một<br>dòng hai<BR/>ba</p><p>Đoạn hai</p>") == (
        "Dòng một dòng hai ba\n\nĐoạn hai"
    )
    blocks = "<h2>a</h2><li>b</li><blockquote>c</blockquote><figcaption>d</figcaption>"
    assert text_of(blocks + "<table><tr><td>e</td></tr></table><div>f</div>g") == (
        "a\n\nb\n\nc\n\nd\n\ne\n\nf\n\ng"
    )


def test_text_of_drops_tags_and_folds_spaces() -> None:
    assert text_of("<p>  a <b>b</b>\u00a0 c </p><p> </p>") == "a b c"


def test_paragraphs_html_escapes_and_skips_empty_ones() -> None:
    assert paragraphs_html(["a < b & c", "", "\u0301d"]) == (
        "<p>a &lt; b &amp; c</p><p>&#x301;d</p>"
    )


def test_allowed_tags_and_attributes() -> None:
    assert {"p", "a", "img", "table", "br"} <= allowed_tags()
    assert not {"script", "style", "iframe", "div", "form"} & allowed_tags()
    assert allowed_attributes("a") == {"href", "title", "rel"}
    assert allowed_attributes("img") == {"src", "alt", "title", "width", "height"}
    assert allowed_attributes("td") == {"colspan", "rowspan"}
    assert allowed_attributes("p") == frozenset()


def test_a_leading_combining_mark_of_any_text_node_is_a_reference() -> None:
    """Marks that compose with nothing before them (U+0301 after ">") too, and the
    very first text node, which has no tag before it here but may get one when the
    fragment is put into a page."""
    assert sanitize_html("<p><b>x</b>\u0301y</p>") == "<p><b>x</b>&#x301;y</p>"
    assert sanitize_html("\u0301a<b>x</b>") == "&#x301;a<b>x</b>"
    assert settle_markup("\u0301a") == "&#x301;a"
    assert settle_markup("<p>Tây</p>\u0300") == "<p>Tây</p>&#x300;"


def test_settle_markup_keeps_the_text_after_the_last_tag() -> None:
    assert settle_markup("a<b>b</b>c\x01") == "a<b>b</b>c"
    assert settle_markup("<i>Tây</i> Ninh\x02") == "<i>Tây</i> Ninh"


def test_settle_markup_turns_carriage_returns_into_line_breaks() -> None:
    assert settle_markup("a\r\nb\rc") == "a\nb\nc"
    assert settle_markup("Tây\rNinh") == "Tây\nNinh"


def test_lone_surrogates_are_removed_before_nh3() -> None:
    """nh3 cannot take them at all: they are removed from the source first."""
    assert sanitize_html("<p>a\ud800b\udfffc</p>") == "<p>abc</p>"
