"""Each cleaning rule, shown on the seed articles' real text."""

from __future__ import annotations

from conftest import seed_raw

from rag.clean import clean_text, is_boilerplate, is_pinyin, remove_pinyin_annotations, repair_shifted_gbk


def test_pinyin_annotations_removed_from_seed_002(seed_documents):
    raw = seed_raw("002")
    assert "計(jì)劃" in raw and "權(quán)益" in raw
    text = seed_documents["002"].text
    assert "計劃" in text
    assert "(jì)" not in text and "(quán)" not in text
    assert "估值AI巨無霸" in text  # "值A(chǔ)I" had an annotation between two Latin letters


def test_real_parentheses_stay(seed_documents):
    assert "(Alexis Conneau)" in seed_documents["002"].text
    assert "(CTO)" in seed_documents["004"].text
    assert "(stepping away)" in seed_documents["004"].text
    assert "(Microsoft, MSFT-US)" in seed_documents["001"].text
    assert remove_pinyin_annotations("星(xīng)計(jì)劃 (SSI) (2024) (café) (OpenAI)") == "星計劃 (SSI) (2024) (café) (OpenAI)"


def test_pinyin_syllables_are_recognised():
    assert all(is_pinyin(word) for word in ["jì", "chuàng", "zhǎng", "lǜ", "xiàn"])
    assert not any(is_pinyin(word) for word in ["café", "stepping", "ai", "résumé"])


def test_bytes_shifted_by_broken_annotation_are_repaired(seed_documents):
    raw = seed_raw("002")
    assert "楸澈笤" in raw and "槿吮M皆知" in raw
    text = seed_documents["002"].text
    assert "楸澈笤" not in text and "管理混亂與資金問題或背后原" in text
    assert "人盡皆知" in text
    assert "大語言模型" in text
    assert "\ufffd" not in text and "/strong>" not in text


def test_real_question_marks_are_not_repaired():
    text = "做產品還是做研究?團隊內部產生路線分歧"
    assert repair_shifted_gbk(text) == text


def test_navigation_share_and_follow_prompts_removed(seed_documents):
    raw, text = seed_raw("001"), seed_documents["001"].text
    for noise in ["分享至 Facebook", "收藏文章", "追蹤此作者", "任務中心", "字體放大", "地圖推薦", "【延伸閱讀】"]:
        assert noise in raw and noise not in text
    raw2, text2 = seed_raw("002"), seed_documents["002"].text
    for noise in ["立即加入", "掃碼加入", "相關(guān)推薦", "閱讀需 20 分鐘", "申請(qǐng)入駐"]:
        assert noise in raw2 and noise.replace("(guān)", "").replace("(qǐng)", "") not in text2


def test_copyright_credit_and_reference_lines_removed(seed_documents):
    raw, text = seed_raw("000"), seed_documents["000"].text
    assert "文章来自于微信公众号“新智元”" in raw and "文章来自于" not in text
    assert "参考资料:" in raw and "参考资料" not in text and "https://" not in text
    assert "授權轉載" not in seed_documents["001"].text


def test_image_source_captions_removed(seed_documents):
    assert "圖片來自網路" in seed_raw("001")
    assert "圖片來自網路" not in seed_documents["001"].text


def test_trailing_menu_fragments_removed(seed_documents):
    assert seed_raw("003").rstrip().endswith("披头士乐队,流行音乐商业化的开山鼻祖")
    assert seed_documents["003"].text.endswith("我们下一期节目再见!")
    assert seed_documents["001"].text.endswith("clippy。")


def test_unrelated_trailing_story_dropped_by_manifest_rule(seed_documents):
    assert "iPhone 16" in seed_raw("004")
    doc = seed_documents["004"]
    assert doc.drop_from and "iPhone" not in doc.text and "手机厂商" not in doc.text
    assert doc.text.endswith("你不想留下来并成为其中的一员吗?”")


def test_nfkc_and_whitespace():
    assert clean_text("ＯｐｅｎＡＩ　估值１５００亿美元。\n\n\n  两个   空格！ ") == "OpenAI 估值1500亿美元。\n两个 空格!"


def test_boilerplate_matches_both_scripts():
    assert is_boilerplate("關注我們") and is_boilerplate("关注我们")  # the rule is written in Simplified only
    assert is_boilerplate("相關推薦") and is_boilerplate("相关推荐")
    assert not is_boilerplate("OpenAI 員工公開信內容")


def test_titles_and_metadata_in_manifest(seed_documents):
    assert seed_documents["001"].script == "zh-Hant" and seed_documents["000"].script == "zh-Hans"
    assert seed_documents["001"].source == "虎嗅網" and seed_documents["001"].date == "2023 年 11 月 21 日"
    assert seed_documents["000"].source == "新智元"
    assert seed_documents["000"].title == "OpenAI CEO奥特曼,墙倒众人推?"
    for doc in seed_documents.values():
        assert doc.title in doc.text  # titles are taken from the article
