"""Write the labelled corpus that trains and measures intake's category classifier.

Every report is composed from banks written for the project, per category of
``config/son-la/city.yaml`` (``unclassified`` is not a label):

* *cores*: one sentence saying what is wrong, in a citizen's words, with slots for the
  place ({place}: a street or an area of Sơn La; {street}; {ward}; {old}: a ward name from
  before the 2025 merger);
* *details*: a sentence adding what a citizen adds (how long, who, what was tried);
* *asides*: a short mention of the category inside a report about another one (mixed
  topics: the report keeps the category that dominates it).

Shared *frames* open and close a message and say since when. A report is short (the
core, sometimes cut at its first comma when six words or more remain), medium or long
(an opener, the core, one to three details, an aside from another category, a closer),
then written in one of three forms:
accented (as typed with a Vietnamese keyboard), plain (no diacritics) or teencode (no
diacritics, chat abbreviations such as ko, dc, j, ng, sdt, lowercase, punctuation
dropped).

Held out: each bank is cut into train, dev and test entries by position (entry i goes to
test when i % 4 == 1, to dev when i % 8 == 3, otherwise to train), and each split composes
its reports only from its own entries. A test report therefore describes a situation
(core), adds details and is framed in words that no training report used: the test split
measures how the classifier generalises to new phrasings, not whether it remembers
sentences. Places and the teencode forms are shared: they say nothing of the category.

Seeded: the same files every run.

    uv run python scripts/make_classifier_corpus.py
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "config/son-la/classifier/corpus"
SEED = 20260518
SIZES = {"train": 56, "dev": 14, "test": 18}
"""Reports per category in each split."""


def _lines(block: str) -> list[str]:
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


STREETS = _lines("""
đường Tô Hiệu
đường Trường Chinh
đường Chu Văn Thịnh
đường Lò Văn Giá
đường Nguyễn Lương Bằng
đường 3/2
đường Lê Duẩn
đường Điện Biên
đường Hai Bà Trưng
đường 26/8
đường Hoàng Quốc Việt
đường Tô Ngọc Vân
quốc lộ 6 đoạn qua Chiềng Sinh
ngõ 12 đường Tô Hiệu
ngõ 45 đường Trường Chinh
""")

AREAS = _lines("""
tổ 8 phường Chiềng Sinh
bản Hụm
bản Hìn
chợ Noong Đúc
khu Quảng trường Tây Bắc
khu vực gần Bến xe khách Sơn La
tổ 3 phường Tô Hiệu
tổ 5 phường Chiềng An
tổ 10 Quyết Thắng
khu vực Chiềng Lề
bản Hua La
tổ 2 Chiềng Cơi
tiểu khu 4 Chiềng Sinh
khu tái định cư Chiềng Ngần
gần Chợ Trung tâm thành phố
xóm trên bản Hụm
tổ 7 phường Chiềng Cơi
""")

WARDS = _lines("""
phường Chiềng Sinh
phường Tô Hiệu
phường Chiềng An
phường Chiềng Cơi
""")

OLD_WARDS = _lines("""
phường Quyết Thắng
phường Chiềng Lề
xã Chiềng Ngần
xã Hua La
xã Chiềng Xôm
xã Chiềng Đen
xã Chiềng Cọ
""")

OPENERS = _lines("""
Kính gửi UBND phường,
Xin chào ban quản trị,
Em chào anh chị ạ,
Tôi là người dân ở {place}.
Tôi xin phản ánh việc sau:
Cho mình hỏi chút,
Mong các cơ quan chức năng xem xét giúp:
Gửi Trung tâm điều hành thông minh,
Nhờ admin chuyển giúp lên phường:
Bức xúc quá nên phải viết lên đây.
Kính gửi lãnh đạo thành phố,
Thưa các đồng chí,
Mình ở {ward}, muốn phản ánh:
Chào mọi người,
Xin phép được phản ánh một việc,
Alo, cho hỏi ai phụ trách việc này?
Là cộng tác viên dư luận xã hội, tôi xin báo cáo:
Chuyện này kéo dài lâu rồi,
Nhờ page đăng giúp,
Em xin phép phản ánh ạ.
Gia đình tôi ở {old} cũ,
Thay mặt bà con trong tổ,
Nói thật là không biết kêu ai nữa,
Kính đề nghị,
""")

CLOSERS = _lines("""
Đề nghị cơ quan chức năng xử lý sớm.
Mong được phản hồi.
Xin cảm ơn!
Rất mong phường vào cuộc.
Đề nghị kiểm tra và trả lời cho dân biết.
Mong sớm được giải quyết ạ.
Cảm ơn admin.
Dân chúng tôi rất bức xúc.
Xin chân thành cảm ơn.
Đề nghị xử lý dứt điểm.
Mong các anh chị giúp đỡ.
Ai có trách nhiệm xin trả lời.
Liên hệ tôi qua số điện thoại trong tài khoản.
Mong lãnh đạo quan tâm.
Tks ad.
Xin hãy giúp đỡ bà con.
Đề nghị báo lại kết quả.
Trân trọng.
Mình cảm ơn nhiều.
Mong phản hồi sớm.
Chúng tôi chờ câu trả lời.
Cảm ơn đã đọc tin nhắn.
Nếu cần tôi sẵn sàng dẫn cán bộ đến tận nơi.
Vậy thôi ạ.
""")

WHEN = _lines("""
Tình trạng này kéo dài từ đầu tháng.
Sự việc xảy ra từ sáng nay.
Chuyện này mấy hôm nay rồi.
Đã hơn một tuần như vậy.
Cả tháng nay vẫn thế.
Tối nào cũng vậy.
Từ hôm thứ hai đến giờ.
Lâu lắm rồi chứ không phải mới.
Việc này xảy ra hôm qua.
Tuần trước đã xảy ra một lần.
Từ Tết đến giờ vẫn chưa ai xử lý.
Gần hai tháng nay rồi.
Chiều nay lại tiếp tục.
Đêm qua lại diễn ra.
Từ năm ngoái đến nay.
Sáng nào cũng thế.
""")

ASIDE_FRAMES = _lines("""
Ngoài ra {aside}.
Thêm nữa là {aside}.
Bên cạnh đó {aside}.
Chưa kể {aside}.
Đã vậy {aside}.
Nói thêm là {aside}.
""")


class Bank:
    """What one category's reports are made of."""

    def __init__(self, cores: str, details: str, asides: str) -> None:
        self.cores = _lines(cores)
        self.details = _lines(details)
        self.asides = _lines(asides)


BANKS: dict[str, Bank] = {
    "security_order": Bank(
        cores="""
Tối qua nhà tôi ở {place} bị kẻ gian đột nhập lấy mất chiếc xe máy để trong sân.
Khu vực {place} thường xuyên có nhóm thanh niên tụ tập uống rượu, la hét đến khuya.
Có người lạ mặt hay lảng vảng quanh {place} vào ban đêm, soi đèn vào nhà dân.
Nhà hàng xóm ở {place} hát karaoke bằng loa kẹo kéo đến 12 giờ đêm, cả xóm không ngủ được.
Phát hiện có đối tượng tiêm chích ma túy dưới gầm cầu gần {place}, vứt kim tiêm bừa bãi.
Một nhóm người tổ chức đánh bạc ăn tiền trong căn nhà bỏ hoang ở {place}.
Chiều nay có hai nhóm thanh niên cầm gậy gộc đánh nhau ngay trước cổng chợ ở {place}.
Gần đây ở {place} có người bị cướp giật điện thoại khi đang đi bộ buổi tối.
Có đối tượng cho vay nặng lãi đến nhà dân ở {place} đe dọa, ném chất bẩn vào cửa.
Quán nước ở {place} nghi là điểm bán lô đề, người ra vào ghi số cả ngày.
Trộm vặt xảy ra liên tục ở {place}, hết mất gà lại mất chậu cây, mất cả bình ga.
Ông hàng xóm say rượu về là chửi bới, đánh vợ con, cả tổ nghe thấy mà không ai dám can.
Có nhóm đòi nợ thuê xăm trổ kéo đến {place} gây náo loạn, dọa sẽ quay lại.
Nửa đêm có tiếng đập cửa, người lạ cố cạy khóa cổng nhà tôi ở {place}.
Có kẻ gọi điện giả danh công an để lừa tiền của người già ở {place}.
Khu nhà trọ ở {place} có người lạ ra vào thất thường, nghi có hoạt động mại dâm.
Thanh niên trong bản hay tụ tập hút chích ở khu đồi sau {place}, người dân rất lo cho con em.
Quán bi-a ở {place} mở đến 2-3 giờ sáng, thường xuyên xảy ra xô xát.
Có kẻ bẻ khóa xe máy dựng trước cửa hàng ở {place} ngay giữa ban ngày.
Mấy thanh niên cầm dao rượt đuổi nhau qua {place} lúc tối, trẻ con hoảng sợ.
Người dân ở {place} liên tục bị mất trộm chó, kẻ trộm đi xe máy không biển số.
Một số đối tượng bảo kê ở {place}, thu tiền của người bán hàng mỗi ngày.
Loa thùng nhà bên cạnh bật nhạc ầm ĩ từ sáng đến tối, nhắc nhở thì bị dọa đánh.
Đêm nào cũng có nhóm thanh niên hò hét, ném chai lọ vào nhà dân ở {place}.
""",
        details="""
Chúng tôi đã báo công an khu vực nhưng tình trạng vẫn tiếp diễn.
Người dân rất lo cho an toàn của gia đình, nhất là người già và trẻ nhỏ.
Camera nhà bên có quay lại được hình ảnh, tôi có thể cung cấp.
Ban đêm đường vắng nên kẻ gian rất dễ ra tay.
Đề nghị công an phường tăng cường tuần tra vào ban đêm.
Sự việc đã diễn ra nhiều lần, lần nào cũng vào khoảng 11 giờ đêm.
Đối tượng khoảng 20 tuổi, đi xe máy màu đen, không đeo biển số.
Mong cơ quan chức năng sớm xử lý để bà con yên tâm làm ăn.
Hôm trước có người can ngăn thì bị chúng dọa đánh.
Nhiều hộ đã phải lắp thêm khóa và camera nhưng vẫn không yên tâm.
Tiếng ồn kéo dài làm người già và cháu nhỏ mất ngủ triền miên.
Tổ trưởng tổ dân phố đã nhắc nhở nhưng họ không chấp hành.
""",
        asides="""
tối đến còn có thanh niên tụ tập gây ồn
hôm trước nhà bên cạnh còn bị mất trộm xe đạp
đêm thì hàng xóm hát karaoke ầm ĩ
""",
    ),
    "traffic_safety": Bank(
        cores="""
Thanh niên đua xe, lạng lách đánh võng trên {street} vào tối thứ bảy hằng tuần.
Ngã tư {street} không có đèn tín hiệu, giờ tan học xe cộ đi lộn xộn, suýt va chạm liên tục.
Xe tải chở vật liệu chạy quá tốc độ qua {place}, đi ngay khu dân cư đông trẻ em.
Sáng nay ở {street} xảy ra tai nạn giữa xe máy và ô tô, một người bị thương.
Biển báo hạn chế tốc độ ở khúc cua {street} bị cây che khuất, lái xe không nhìn thấy.
Nhiều học sinh đi xe máy điện không đội mũ bảo hiểm, chở ba chở bốn trên {street}.
Ô tô đỗ dàn hàng hai bên {street} gây ùn tắc giờ cao điểm, xe cứu thương cũng khó đi.
Đề nghị làm gờ giảm tốc ở đoạn dốc {street}, xe xuống dốc phóng rất nhanh.
Nhiều xe đi ngược chiều trên {street}, đã mấy lần suýt đâm nhau.
Xe ben chở đất chạy ẩu, vượt đèn đỏ ở nút giao {street}.
Đêm nào cũng có nhóm thanh niên nẹt pô, rú ga chạy vòng quanh {place}.
Tài xế xe khách dừng đỗ đón trả khách tùy tiện trước {place}, rất nguy hiểm.
Vạch kẻ đường cho người đi bộ ở {street} đã mờ hết, các cháu qua đường rất khó.
Hàng cây rậm rạp che tầm nhìn ở góc cua {street}, xe từ ngõ ra không thấy xe trên đường chính.
Có người uống rượu say rồi vẫn lái ô tô đi qua {place}, đề nghị kiểm tra nồng độ cồn.
Xe chở sắt thép thò ra cả mét chạy trên {street} mà không cắm cờ báo hiệu.
Cổng trường trên {street} giờ tan học xe đón con đỗ tràn ra đường, tắc nghẽn kéo dài.
Mấy đứa trẻ chưa đủ tuổi, không có bằng lái vẫn phóng xe phân khối lớn ngoài {street}.
Đèn giao thông ở ngã ba {street} bị hỏng mấy hôm, xe các hướng tranh nhau đi.
Đường đèo qua {place} thiếu biển cảnh báo dốc nguy hiểm, tuần trước có xe mất phanh lao xuống ruộng.
Xe đầu kéo đi vào giờ cấm qua {street}, đường nhỏ không tránh được nhau.
Khu vực chợ {place} xe máy đi lại hỗn loạn, không ai phân luồng, va quệt hằng ngày.
Có một chiếc xe chạy rất nhanh tông vào người đi bộ rồi bỏ chạy ở {street}.
Phụ huynh chở con đi học không đội mũ, vừa lái xe vừa nghe điện thoại trên {street}.
""",
        details="""
Đoạn này đã xảy ra mấy vụ va quệt trong tháng rồi.
Đề nghị cảnh sát giao thông thường xuyên kiểm tra, xử phạt.
Giờ cao điểm buổi sáng và chiều là nguy hiểm nhất.
Người dân hai bên đường không dám cho trẻ con ra ngoài.
Mong các cơ quan chức năng bố trí lực lượng phân luồng.
Xe chạy tốc độ cao, tiếng còi inh ỏi suốt ngày.
Nhiều người đi đường đã phải phanh gấp để tránh.
Tôi có quay được clip biển số xe, có thể gửi cho lực lượng chức năng.
Đường dốc, lại có khúc cua gấp nên rất dễ xảy ra tai nạn.
Các cháu học sinh đi bộ qua đây mỗi ngày.
Cần thêm biển báo và đèn cảnh báo ở đoạn này.
Tình trạng kéo dài cả năm nay chưa được giải quyết.
""",
        asides="""
xe tải thì chạy rầm rầm rất nhanh
hôm qua còn suýt có va chạm xe máy
ô tô đỗ lung tung gây tắc đường
""",
    ),
    "natural_resources_environment": Bank(
        cores="""
Có người dùng máy xúc khai thác cát trái phép ở lòng suối gần {place}, bờ suối sạt lở.
Mỏ đá phía trên {place} nổ mìn làm rung nhà dân, bụi đá bay mù mịt.
Xưởng chế biến cà phê gần {place} xả nước thải màu đen xuống suối, cá chết trắng.
Rừng đầu nguồn phía sau {place} bị chặt phá, mỗi đêm có xe chở gỗ ra ngoài.
Lò gạch thủ công ở {place} đốt suốt ngày đêm, khói đen bao trùm cả khu dân cư.
Trạm trộn bê tông gần {place} gây bụi và tiếng ồn, người dân không mở được cửa.
Có người dùng kích điện đánh bắt cá dưới suối Nậm La đoạn qua {place}.
Có nhóm người múc đất đồi ở {place} mang đi bán, quả đồi bị khoét sâu.
Nước suối chảy qua {place} có váng dầu và mùi hóa chất, trâu bò uống bị ốm.
Người ta đốt nương làm rẫy lan sang rừng phòng hộ gần {place}, khói mù cả thành phố.
Có người san lấp suối để làm nhà hàng ở {place}, dòng chảy bị thu hẹp.
Cơ sở tái chế nhựa ở {place} đốt phế liệu vào ban đêm, mùi khét rất khó thở.
Phát hiện người bẫy chim, săn bắt động vật hoang dã trong rừng gần {place}.
Nhà máy ở {place} xả khói bụi, bụi bám đen mái nhà và cây trồng của dân.
Bãi đãi vàng trái phép ở thượng nguồn làm nước suối qua {place} đục ngầu.
Vườn cây ăn quả của một số hộ phun thuốc trừ sâu sát nguồn nước ở {place}, vỏ chai vứt xuống suối.
Xe múc đổ đất đá lấp vào hành lang suối ở {place} để lấy mặt bằng.
Xưởng gỗ ở {place} chạy máy cưa xẻ cả đêm, mùn cưa bay khắp nơi.
Chất thải từ trang trại lợn công nghiệp gần {place} chảy thẳng ra suối, ô nhiễm nặng.
Có đối tượng khai thác đá trái phép ở núi đá gần {place}, tiếng nổ rung cả nhà.
Người ta chặt trộm cây gỗ quý trong khu bảo tồn gần {place} rồi kéo về bằng xe công nông.
Nhà máy tinh bột sắn gần {place} thải mùi chua nồng nặc, nước thải ngấm xuống giếng.
Cây rừng trồng ven hồ gần {place} bị cưa hạ hàng loạt, đồi trọc trơ đất.
Đoạn suối gần {place} bị thu hẹp vì người ta đổ đất đá mở rộng vườn.
""",
        details="""
Ô nhiễm kéo dài đã nhiều tháng, ảnh hưởng sức khỏe người dân.
Đề nghị phòng tài nguyên và môi trường kiểm tra, xử lý nghiêm.
Nguồn nước của cả bản lấy từ con suối này.
Mùa mưa tới đất đá sẽ trôi xuống, nguy cơ sạt lở rất cao.
Họ làm vào ban đêm để tránh bị phát hiện.
Cá tôm dưới suối gần như không còn.
Cây cối hai bên bị bụi phủ trắng, hoa màu không phát triển được.
Chúng tôi đã nhiều lần phản ánh với xã nhưng chưa được xử lý dứt điểm.
Tôi có chụp lại hình ảnh xe và máy móc đang làm.
Mùi khó chịu lan xa cả cây số, nhất là khi trời nồm.
Ban ngày thì ngừng, tối đến lại hoạt động tiếp.
Mong cơ quan chức năng có biện pháp bảo vệ rừng và nguồn nước.
""",
        asides="""
khói bụi từ lò gạch bay sang
nước suối cũng bị ô nhiễm
máy xúc múc đất suốt đêm
""",
    ),
    "construction_order": Bank(
        cores="""
Hộ gia đình ở {place} xây nhà ba tầng nhưng giấy phép chỉ cho hai tầng.
Công trình đang xây ở {place} không có biển công khai giấy phép, không che chắn gì.
Nhà bên cạnh ở {place} cơi nới thêm tầng tum, đổ bê tông lấn sang mái nhà tôi.
Công trường ở {place} thi công ban đêm, máy trộn chạy đến 1 giờ sáng.
Giàn giáo công trình ở {place} dựng sát đường, vật liệu rơi xuống suýt trúng người đi đường.
Hộ dân ở {place} tự ý xây tường rào lấn ra hành lang an toàn đường bộ.
Nhà đang xây cạnh nhà tôi ở {place} đào móng sâu làm tường nhà tôi bị nứt.
Có người dựng nhà khung thép, lợp mái tôn trên đất nông nghiệp ở {place} mà không xin phép.
Chủ công trình ở {place} tập kết cát, gạch, sắt thép ngay trước cửa cả tháng nay.
Thợ sửa nhà ở {place} phá dỡ tường cũ, ném gạch vữa thẳng xuống ngõ.
Nhà hàng xóm ở {place} xây ban công đua ra quá chỉ giới, che hết ánh sáng nhà tôi.
Đề nghị kiểm tra nhà ở riêng lẻ ở {place} xây vượt tầng, sai thiết kế được duyệt.
Khu chung cư mini đang xây ở {place} không có rào chắn, bụi xi măng bay vào nhà dân.
Cán bộ xây dựng phường đã lập biên bản nhưng chủ nhà ở {place} vẫn tiếp tục xây.
Công trình ở {place} ép cọc bê tông rung cả dãy nhà, đồ đạc rơi vỡ.
Nhà tôi ở {place} bị thấm nước, nghiêng do công trình bên cạnh đào tầng hầm.
Xe bơm bê tông của công trình ở {place} làm việc từ 4 giờ sáng, ồn không ngủ được.
Có người xây ki-ốt kiên cố trên đất công cạnh {place}, phường chưa xử lý.
Ngôi nhà đang xây ở {place} không có lưới che, vữa và gạch vụn rơi xuống sân nhà bên.
Hộ ở {place} xây thêm phòng trọ trên sân thượng mà không có giấy phép xây dựng.
Tường rào công trình ở {place} xây cao, nghiêng ra phía ngõ, có nguy cơ đổ.
Công trình bỏ dở ở {place} mấy năm nay, cốt thép hoen gỉ, trẻ con trèo vào chơi rất nguy hiểm.
Nhà thầu sửa nhà văn hóa ở {place} thi công cẩu thả, trộn vữa ngay giữa lối đi.
Chủ nhà ở {place} xây sai mốc lộ giới, móng nhà nhô ra ngoài chỉ giới xây dựng.
""",
        details="""
Tôi đã sang góp ý nhưng chủ nhà bảo đã có phép rồi.
Đề nghị đội trật tự xây dựng xuống kiểm tra giấy phép.
Công trình làm cả ngày lẫn đêm, không theo giờ giấc nào.
Nếu không xử lý kịp, nhà tôi có thể bị hư hại nặng hơn.
Phường đã nhắc nhở một lần nhưng họ vẫn làm tiếp.
Tôi có ảnh chụp tiến độ công trình qua từng tuần.
Bụi xi măng và tiếng máy làm cả xóm khó chịu.
Mong các cơ quan kiểm tra việc cấp phép cho công trình này.
Nhiều hộ khác cũng đang chờ xem có bị xử lý không để làm theo.
Vật liệu để ngổn ngang, trời mưa bùn đất chảy khắp ngõ.
Công nhân không đội mũ, không đeo dây an toàn.
Chúng tôi chỉ mong được sống yên ổn, không bị ảnh hưởng.
""",
        asides="""
bên cạnh lại có nhà đang xây ầm ầm
công trình gần đó đổ vật liệu ra ngõ
nhà bên xây cơi nới lấn sang
""",
    ),
    "urban_order": Bank(
        cores="""
Các hộ kinh doanh ở {place} bày hàng hóa lấn chiếm hết vỉa hè, người đi bộ phải xuống lòng đường.
Người bán rau, thịt, cá họp chợ cóc ngay trên {street} từ sáng sớm, gây mất mỹ quan.
Quán nhậu ở {place} kê bàn ghế tràn ra vỉa hè, khách để xe chắn cả lối đi.
Hộ gia đình bán thịt lợn, cá tươi ngoài hành lang chợ Noong Đúc, vi phạm nội quy chợ.
Biển quảng cáo dựng tràn lan trên vỉa hè {street}, có cái sắp đổ.
Tờ rơi quảng cáo khoan cắt bê tông, cho vay tiền dán kín tường nhà ở {place}.
Xe đẩy bán hàng rong đứng chắn cổng trường ở {street}, học sinh tan học chen chúc.
Điểm trông giữ xe tự phát ở {place} chiếm hết vỉa hè, thu tiền cao.
Chó thả rông đi lại khắp {place}, đuổi cắn người đi đường.
Các hộ ở {street} dựng lều bạt, mái che kiên cố lấn ra vỉa hè để buôn bán.
Người dân phơi quần áo, để xe máy kín hè phố ở {street}, mất mỹ quan đô thị.
Trâu bò thả rông trên đường qua {place}, chiều nào cũng tắc.
Gara sửa xe ở {street} sửa chữa ngay trên vỉa hè, dầu mỡ chảy loang lổ.
Hàng hoa quả bày bán dưới lòng đường đoạn {street}, xe đi qua phải lách.
Cửa hàng vật liệu ở {street} để gạch, xi măng chiếm dụng vỉa hè nhiều ngày.
Quán cà phê ở {street} đặt biển hiệu đèn led to chắn cả lối đi trên hè.
Phía trước cổng chợ ở {place} người bán hàng bày la liệt xuống lòng đường.
Hàng ăn đêm ở {street} kê bàn ghế ra tận mép đường, bàn ghế chiếm hết hè.
Một số hộ tự ý xây bậc tam cấp, bồn hoa lấn chiếm hè phố ở {street}.
Bãi đỗ ô tô tự phát ở khu đất trống cạnh {place} tràn ra cả đường.
Người bán hàng rong chèo kéo khách ở khu {place}, nhất là vào buổi tối.
Băng rôn, biển hiệu quảng cáo treo chằng chịt trên cây dọc {street}.
Các quán nước chiếm hết vỉa hè quanh {place}, người đi bộ không có chỗ đi.
Tiệm rửa xe ở {street} xả nước ra vỉa hè, bày xe kín lối đi.
""",
        details="""
Lực lượng trật tự đô thị đến thì dọn, đi khỏi là lại bày ra.
Người đi bộ, nhất là người già và trẻ em phải đi xuống lòng đường rất nguy hiểm.
Đề nghị phường ra quân lập lại trật tự vỉa hè.
Tình trạng này diễn ra cả ngày, đông nhất vào buổi sáng.
Khu vực này là tuyến phố chính, cần giữ mỹ quan.
Các hộ kinh doanh coi vỉa hè như của riêng nhà mình.
Nhiều lần nhắc nhở nhưng họ vẫn không chấp hành.
Khách du lịch đến thành phố nhìn thấy rất phản cảm.
Mong phường có biện pháp xử lý dứt điểm, không để tái diễn.
Buổi tối còn lấn chiếm nhiều hơn ban ngày.
Tôi gửi kèm ảnh chụp hiện trạng.
Xe cứu hỏa mà cần đi vào đây cũng không được.
""",
        asides="""
vỉa hè thì bị lấn chiếm bán hàng
hàng rong bày ra tận lòng đường
quán xá kê bàn ghế chiếm hết lối đi
""",
    ),
    "environmental_sanitation": Bank(
        cores="""
Rác thải sinh hoạt ở {place} không được thu gom cả tuần nay, bốc mùi hôi thối.
Có người đổ trộm rác, phế thải xây dựng ra bãi đất trống cạnh {place}.
Cống thoát nước ở {place} bị tắc, nước thải tràn lên mặt đường, ruồi muỗi nhiều.
Điểm tập kết rác ở đầu {street} quá tải, rác tràn ra đường, chó mèo bới tung.
Hộ gia đình ở {place} nuôi lợn ngay trong khu dân cư, chất thải chảy ra rãnh hôi thối.
Xe thu gom rác đến không đúng giờ, có hôm bỏ qua cả khu {place}.
Xác chó chết vứt bên vệ đường {street} mấy ngày không ai dọn.
Nhà vệ sinh công cộng ở {place} bẩn thỉu, không có nước, mùi nồng nặc.
Có người đốt rác thải nhựa ngay đầu ngõ ở {place}, khói đen bay vào nhà dân.
Mương nước ở {place} đầy rác và túi ni lông, nước đọng có bọ gậy.
Người dân vứt rác bừa bãi xuống suối chảy qua {place}, cứ mưa là rác dạt vào nhà.
Nước rỉ rác từ xe chở rác chảy dọc {street}, mùi rất khó chịu.
Quán ăn ở {place} đổ nước rửa bát, thức ăn thừa thẳng ra rãnh trước cửa.
Thùng rác công cộng ở {street} bị vỡ, không có nắp, rác vương vãi khắp nơi.
Khu vực sau chợ ở {place} thành bãi rác tự phát, ruồi nhặng bu kín.
Ngõ nhà tôi ở {place} lâu rồi không được quét dọn, lá cây và rác ứ đọng.
Rãnh nước trước nhà ở {place} bốc mùi hôi thối, nhất là khi trời nắng.
Có hộ nuôi gà vịt thả rông, phân bừa bãi khắp sân chung ở {place}.
Bể phốt nhà bên cạnh ở {place} bị tràn, chất thải chảy sang nhà tôi.
Sau phiên chợ, rác ở {place} để nguyên không ai thu dọn đến hôm sau.
Đề nghị tăng số lần thu gom rác ở {place}, hiện chỉ thu hai lần một tuần.
Xác chuột chết trong cống ở {place}, mùi xộc lên tận nhà.
Nhiều hộ ở {place} không đóng phí vệ sinh, rác chất đống trước cửa.
Bãi rác ở đầu {place} không được xử lý, mưa xuống nước đen chảy vào ruộng.
""",
        details="""
Trời nắng mùi hôi càng nồng nặc, không ai chịu nổi.
Ruồi muỗi sinh sôi, nhiều cháu nhỏ bị sốt.
Đề nghị công ty môi trường đô thị thu gom đúng lịch.
Chúng tôi vẫn đóng phí vệ sinh đầy đủ hằng tháng.
Tình trạng kéo dài đã hơn một tuần.
Người đi qua phải bịt mũi.
Mong phường nhắc nhở các hộ giữ gìn vệ sinh chung.
Khi mưa to nước bẩn tràn vào tận nhà.
Tôi đã gọi cho tổ trưởng nhưng chưa thấy ai xử lý.
Đề nghị đặt thêm thùng rác và biển cấm đổ rác.
Chó mèo bới rác tung tóe ra đường.
Môi trường sống của bà con bị ảnh hưởng nghiêm trọng.
""",
        asides="""
rác thì không ai thu gom
cống bốc mùi hôi
người ta còn đổ rác bừa bãi
""",
    ),
    "electricity": Bank(
        cores="""
Khu vực {place} mất điện từ sáng đến giờ mà không có thông báo lịch cắt điện.
Điện ở {place} chập chờn, buổi tối bóng đèn chỉ le lói, tủ lạnh không chạy.
Cột điện ở {place} bị nghiêng sau trận mưa, dây điện võng thấp sát đầu người.
Dây điện trên cột ở {street} chằng chịt, có đoạn tóe lửa khi trời mưa.
Hóa đơn tiền điện tháng này nhà tôi ở {place} tăng gấp đôi, nghi công tơ chạy sai.
Trạm biến áp gần {place} kêu rất to và bốc khói, người dân rất sợ.
Dây điện đứt rơi xuống đường ở {street}, rất nguy hiểm cho người đi qua.
Tuần này khu {place} bị cắt điện ba lần, mỗi lần cả buổi, đồ điện hỏng hết.
Hộp công tơ ở {place} bị bung nắp, dây điện hở ngay cạnh lối đi của trẻ con.
Nhà tôi ở {place} chưa có điện lưới, phải kéo nhờ dây từ nhà hàng xóm rất xa.
Điện áp cuối nguồn ở {place} sụt mạnh, máy bơm không khởi động được.
Tủ điện trên vỉa hè {street} không có khóa, cửa mở toang, trẻ em hay nghịch.
Cành cây đè lên đường dây điện ở {place}, mỗi lần gió to là mất điện.
Đề nghị điện lực kiểm tra, đêm qua nhà tôi ở {place} bị chập điện hỏng cả công tơ.
Ngành điện thay công tơ điện tử ở {place} nhưng không cho dân xem chỉ số cũ.
Mất điện từ tối qua ở {place}, gọi tổng đài điện lực không ai nghe.
Cột điện hạ thế ở {place} bị mục chân, đã có vết nứt to.
Bên điện ghi chỉ số không đúng, tháng nào tiền điện nhà tôi cũng cao bất thường.
Dây điện kéo qua vườn nhà tôi ở {place} không có cột đỡ, buộc tạm vào cây.
Có người bị giật tê tay khi chạm vào cột sắt ở {place}, nghi bị rò điện.
Ở {place} cứ đến giờ cao điểm buổi tối là nhảy aptomat, điện không đủ dùng.
Lịch cắt điện báo một ngày mà ở {place} mất liền hai ngày.
Đường dây trung thế chạy sát mái nhà dân ở {place}, mùa mưa rất lo.
Xin hỏi vì sao khu {place} thường xuyên bị ngừng cấp điện vào cuối tuần?
""",
        details="""
Trời nóng, người già và trẻ nhỏ rất khổ.
Đồ điện trong nhà bị hỏng mấy thứ vì điện lúc có lúc không.
Đề nghị công ty điện lực kiểm tra và khắc phục sớm.
Gọi tổng đài chăm sóc khách hàng nhưng chỉ được hẹn.
Thực phẩm trong tủ lạnh hỏng hết.
Nhiều hộ kinh doanh phải nghỉ bán vì không có điện.
Mong ngành điện thông báo trước để dân chủ động.
Mấy hôm trước đã báo nhưng đến nay vẫn chưa ai đến.
Nguy cơ mất an toàn rất cao, nhất là khi trời mưa.
Các cháu không có điện để học bài buổi tối.
Máy bơm không chạy nên cũng không có nước để dùng.
Tôi có chụp ảnh hóa đơn và chỉ số công tơ.
""",
        asides="""
điện thì lúc có lúc mất
dây điện còn võng thấp
mấy hôm nay cũng bị mất điện
""",
    ),
    "water_supply": Bank(
        cores="""
Khu {place} mất nước sinh hoạt ba ngày nay, công ty cấp nước không thông báo.
Nước máy ở {place} có màu vàng đục, có mùi tanh, không dám dùng nấu ăn.
Ống nước ở {street} bị vỡ, nước phun lênh láng ra đường từ đêm qua.
Nước ở {place} chảy rất yếu, chỉ có vào lúc nửa đêm, ban ngày không đủ dùng.
Đồng hồ nước nhà tôi ở {place} quay cả khi không dùng, tiền nước tăng vọt.
Khu tái định cư Chiềng Ngần đến nay vẫn chưa có nước sạch, phải mua nước bình.
Đường ống dẫn nước qua {place} rò rỉ lâu ngày, nước chảy thành vũng.
Hóa đơn tiền nước tháng này của gia đình tôi ở {place} cao bất thường.
Nước sạch ở {place} có cặn trắng, đun lên đóng đầy đáy ấm.
Bể nước tập trung của {place} bị hỏng, cả bản thiếu nước mùa khô.
Công ty nước cắt nước để sửa chữa nhưng đến hẹn vẫn chưa có nước lại.
Vòi nước công cộng ở {place} hỏng, nước chảy suốt ngày đêm không ai sửa.
Nước máy ở {place} có mùi clo rất nặng, trẻ con tắm bị ngứa.
Đề nghị kéo đường ống nước sạch đến {place}, hiện dân vẫn dùng nước giếng.
Sau khi đào đường, ống nước ở {street} bị đứt, cả tổ không có nước.
Nước cứ sáng ra là bị ngắt, phải chờ đến tối mới có, không hiểu vì sao.
Nhà tôi ở {place} đăng ký lắp đồng hồ nước hai tháng mà chưa được lắp.
Nước về nhà tôi ở {place} lẫn bùn đất sau mấy trận mưa.
Tầng hai trở lên ở {place} không có nước vì áp lực quá yếu.
Mùa khô năm nào khu {place} cũng thiếu nước, đề nghị có phương án cấp nước bổ sung.
Nước máy thỉnh thoảng có giun nhỏ, bà con ở {place} rất sợ.
Van tổng nước ở {street} bị gãy, nước tràn ra ngõ.
Đội sửa ống nước đào hố ở {street} xong để đó, nước vẫn chưa có.
Đề nghị kiểm tra chất lượng nước máy ở {place}, nước có mùi lạ cả tuần nay.
""",
        details="""
Cả gia đình không có nước tắm giặt, nấu ăn.
Đề nghị công ty cấp nước kiểm tra và khắc phục ngay.
Chúng tôi vẫn đóng tiền nước đầy đủ mà nước không đảm bảo.
Phải đi xin nước nhà người quen ở xa.
Gọi đường dây nóng của công ty nước nhưng không ai bắt máy.
Nhiều nhà phải mua nước đóng bình để nấu ăn.
Tình trạng này đã lặp lại nhiều lần trong tháng.
Mong có thông báo trước khi cắt nước để dân còn trữ.
Nước lãng phí chảy ra đường rất đáng tiếc.
Tôi có gửi kèm ảnh chụp cốc nước lấy từ vòi.
Trẻ con và người già dùng nước này rất lo.
Các hộ xung quanh cũng bị như vậy.
""",
        asides="""
nước máy thì chảy yếu
lại còn mất nước nữa
nước sinh hoạt có mùi lạ
""",
    ),
    "roads_infrastructure": Bank(
        cores="""
Mặt đường {street} xuống cấp nghiêm trọng, nhiều ổ gà, ổ voi, trời mưa đọng nước.
Đèn đường trên {street} hỏng cả tháng nay, buổi tối tối om rất nguy hiểm.
Nắp hố ga ở {street} bị vỡ, hở một lỗ lớn giữa đường.
Đường bê tông vào {place} bị sụt lún, nứt toác sau mùa mưa.
Cây xanh trên {street} bị mục gốc, nghiêng hẳn ra đường, có thể đổ bất cứ lúc nào.
Lan can cầu treo ở {place} bị gãy mấy đoạn, trẻ em đi qua rất nguy hiểm.
Rãnh thoát nước dọc {street} bị vỡ, mỗi lần mưa là ngập cả đoạn đường.
Gạch lát vỉa hè {street} bong tróc, vỡ nát, người đi bộ hay bị vấp ngã.
Taluy dương đoạn đường lên {place} bị sạt, đất đá tràn xuống nửa mặt đường.
Đường đất vào {place} lầy lội mỗi khi mưa, xe máy không đi được, học sinh phải lội bùn.
Công trình sửa đường ở {street} làm dở dang mấy tháng, đào lên rồi bỏ đấy.
Cành cây to trên {street} bị gãy treo lơ lửng sau trận gió.
Mấy bóng đèn chiếu sáng trong công viên gần {place} bị hỏng, tối đến không ai dám đi.
Cầu tạm bắc qua suối ở {place} mục nát, ván cầu gãy mấy tấm.
Đề nghị trải nhựa lại đoạn {street}, đi qua là xóc nảy, mặt đường toàn đá dăm.
Đường ngõ ở {place} hẹp, xuống cấp, chưa được đổ bê tông, đề nghị đưa vào kế hoạch.
Dải phân cách trên {street} bị xe đâm hỏng, sắt thép chĩa ra ngoài.
Mương thoát nước ven {street} không có nắp đậy, ban đêm có người sa chân xuống.
Đèn đường ở {street} lúc sáng lúc tắt, có hôm bật cả ban ngày lãng phí.
Mặt cầu bắc qua suối Nậm La ở {place} có vết nứt dài, xe tải vẫn đi qua hằng ngày.
Bậc thang lên khu dân cư ở {place} vỡ nát, người già đi lại khó khăn.
Đường liên bản đi {place} bị lở một bên, chỉ còn đủ cho một xe máy qua.
Nước mưa đọng thành vũng lớn ở {street} vì mặt đường thấp, không có chỗ thoát.
Biển tên đường và cột đèn ở {street} bị gỉ sét, đổ nghiêng.
""",
        details="""
Nhiều người đi xe máy đã bị ngã ở đoạn này.
Đề nghị cơ quan quản lý đường sớm sửa chữa.
Đoạn đường này là lối đi chính của cả khu dân cư và học sinh.
Mưa xuống nước đọng thành vũng, không biết chỗ nào sâu.
Đã báo nhiều lần mà chưa thấy ai đến khắc phục.
Buổi tối không có đèn nên càng nguy hiểm.
Xe cứu thương vào đến đây cũng phải đi rất chậm.
Người dân sẵn sàng đóng góp ngày công nếu nhà nước cấp vật liệu.
Cần làm sớm trước mùa mưa bão.
Tôi có ảnh chụp hiện trạng gửi kèm.
Tình trạng xuống cấp kéo dài đã hơn một năm.
Mong thành phố quan tâm đầu tư nâng cấp.
""",
        asides="""
đường thì đầy ổ gà
đèn đường cũng hỏng
mưa xuống là ngập cả đoạn
""",
    ),
    "land": Bank(
        cores="""
Gia đình tôi ở {place} bị hộ bên cạnh lấn chiếm khoảng 20 mét vuông đất, hòa giải không thành.
Hồ sơ xin cấp sổ đỏ của tôi nộp từ năm ngoái đến nay vẫn chưa có.
Giá đền bù giải phóng mặt bằng dự án đường qua {place} quá thấp so với giá thị trường.
Đất nhà tôi ở {place} bị thu hồi làm dự án nhưng chưa được bố trí tái định cư.
Hai gia đình ở {place} tranh chấp ranh giới đất vườn, cột mốc bị nhổ đi.
Cán bộ địa chính đo lại thửa đất nhà tôi ở {place} thiếu mất mấy mét so với sổ.
Có hộ tự ý rào chiếm đất công ven suối ở {place} để trồng cây.
Tôi muốn tách thửa cho con ở {place} nhưng được trả lời là không đủ diện tích.
Xin chuyển mục đích sử dụng đất vườn sang đất ở tại {place} mà hơn một năm chưa xong.
Mảnh đất của gia đình ở {place} được cấp sổ chồng lấn lên đất nhà hàng xóm.
Quy hoạch treo ở {place} mười năm nay, dân không được xây, không được bán đất.
Đất nông nghiệp của bà con ở {place} cho doanh nghiệp thuê nhưng họ không trả tiền như cam kết.
Đề nghị xác minh nguồn gốc lô đất trống ở {place}, có người tự nhận là của mình và rao bán.
Tiền bồi thường cây cối, hoa màu trên đất bị thu hồi ở {place} chưa được trả.
Bản đồ địa chính ghi sai vị trí thửa đất của tôi ở {place}.
Hàng xóm ở {place} dời cọc mốc sang phần đất nhà tôi khi tôi đi làm xa.
Gia đình tôi sử dụng đất ổn định từ năm 1990 ở {place} nhưng chưa được công nhận.
Đất rừng được giao cho hộ tôi ở {place} bị người khác lấn sang phát nương.
Lối đi chung vào nhà tôi ở {place} bị hộ bên cạnh rào lại, nói là đất của họ.
Đề nghị công khai phương án bồi thường khi thu hồi đất ở {place}.
Thửa đất thừa kế của bố mẹ ở {place}, anh em tranh chấp, đề nghị phường hòa giải.
Sổ hồng của nhà tôi ghi sai tên và diện tích, xin điều chỉnh mãi không được.
Đất công ở góc {place} bị một số hộ lấn dần, dựng lán trại.
Diện tích đất còn lại sau giải phóng mặt bằng ở {place} quá nhỏ, xin được thu hồi hết.
""",
        details="""
Gia đình có đầy đủ giấy tờ mua bán và biên lai nộp thuế đất.
Đã hòa giải ở tổ dân phố hai lần nhưng không thành.
Đề nghị cơ quan địa chính xem xét giải quyết.
Chúng tôi chỉ mong được giải quyết công bằng, đúng pháp luật.
Việc này kéo dài làm gia đình không yên tâm sản xuất.
Tôi có bản đồ đo đạc cũ và ảnh chụp mốc giới.
Nhiều hộ khác trong khu cũng có cùng kiến nghị.
Đề nghị cán bộ xuống đo đạc lại hiện trạng.
Gia đình đã sinh sống trên mảnh đất này ba đời.
Mong chính quyền trả lời bằng văn bản.
Giá đất bồi thường chênh quá nhiều so với giá mua bán thực tế.
Chúng tôi chấp hành chủ trương nhưng quyền lợi phải đảm bảo.
""",
        asides="""
đất nhà tôi còn đang tranh chấp
chuyện đền bù đất chưa xong
hàng xóm lấn sang đất nhà tôi
""",
    ),
    "social_policy": Bank(
        cores="""
Mẹ tôi ở {place} đã 82 tuổi nhưng ba tháng nay chưa nhận được tiền trợ cấp người cao tuổi.
Gia đình tôi thu nhập thấp, rất khó khăn nhưng không được xét vào danh sách hộ nghèo năm nay.
Việc bình xét hộ cận nghèo ở {place} không công khai, có hộ khá giả vẫn được.
Con tôi bị khuyết tật bẩm sinh, xin trợ cấp hơn nửa năm chưa có kết quả.
Bố tôi là thương binh, chế độ ưu đãi người có công bị cắt mà không rõ lý do.
Thẻ bảo hiểm y tế của hộ nghèo ở {place} năm nay đến giờ vẫn chưa được phát.
Tôi bị mất việc do công ty cắt giảm, xin hỏi cách hưởng bảo hiểm thất nghiệp.
Ông tôi ở {place} sống neo đơn, ốm đau không ai chăm sóc, đề nghị xét trợ giúp.
Tiền hỗ trợ khắc phục hậu quả lũ quét của các hộ ở {place} bị chi thiếu.
Cháu tôi mồ côi cả bố lẫn mẹ, đang ở với bà ngoại, xin được hưởng chế độ bảo trợ xã hội.
Lương hưu của tôi tháng này bị chậm, ra bưu điện hỏi thì không ai giải thích.
Nhà tình nghĩa của gia đình chính sách ở {place} dột nát, xin được sửa chữa.
Đề nghị xem xét trợ cấp mai táng phí cho gia đình bà cụ vừa mất ở {place}.
Thanh niên ở {place} thất nghiệp nhiều, đề nghị mở lớp dạy nghề và giới thiệu việc làm.
Tên mẹ tôi bị gạch khỏi danh sách hưởng trợ cấp hằng tháng mà không ai thông báo.
Xin hỏi người khuyết tật nặng ở {place} có được hỗ trợ người chăm sóc không?
Giống lúa, phân bón hỗ trợ hộ nghèo ở {place} bị chia không đều.
Cán bộ lao động thương binh xã hội hướng dẫn chế độ người có công mỗi lần một kiểu.
Bà tôi 80 tuổi chưa được cấp thẻ bảo hiểm y tế miễn phí theo chế độ người cao tuổi.
Đề nghị rà soát lại danh sách hộ nghèo ở {place}, nhiều hộ thực sự khó khăn bị bỏ sót.
Gia đình có con là liệt sĩ ở {place}, xin được hướng dẫn về chế độ thờ cúng liệt sĩ.
Tôi đóng bảo hiểm xã hội tự nguyện nhiều năm, nay muốn hỏi về lương hưu.
Gia đình tôi ở {place} đông con, chồng mất sức lao động, xin được hưởng trợ cấp khó khăn.
Quà tết cho hộ nghèo, gia đình chính sách ở {place} được phát không đúng đối tượng.
""",
        details="""
Gia đình thực sự rất khó khăn, mong được quan tâm.
Tôi đã hỏi cán bộ phường nhiều lần nhưng chỉ được hẹn.
Đề nghị phòng lao động thương binh và xã hội xem xét.
Cuộc sống của bà hiện chỉ trông vào khoản tiền này.
Mong được trả lời rõ ràng, đúng chính sách của nhà nước.
Nhiều hộ khác trong tổ cũng thắc mắc như vậy.
Việc xét duyệt cần công khai, minh bạch.
Người già yếu đi lại khó khăn, không thể lên phường nhiều lần.
Gia đình có đủ giấy tờ chứng minh hoàn cảnh.
Xin cảm ơn các cấp chính quyền đã quan tâm.
Hoàn cảnh gia đình ai trong bản cũng biết.
Đề nghị cán bộ xuống tận nhà xác minh.
""",
        asides="""
nhà tôi lại thuộc hộ nghèo
tiền trợ cấp của mẹ tôi cũng chưa nhận
bố tôi già yếu không ai chăm
""",
    ),
    "health_food_safety": Bank(
        cores="""
Cơ sở làm giò chả ở {place} dùng hàn the, làm ăn mất vệ sinh.
Cả nhà tôi bị ngộ độc, đau bụng, tiêu chảy sau khi ăn bánh mì mua ở {place}.
Cửa hàng tạp hóa ở {place} bán bánh kẹo, sữa đã hết hạn sử dụng cho trẻ con.
Lò mổ lợn tự phát ở {place} giết mổ không qua kiểm dịch, thịt bán ra chợ.
Trạm y tế ở {place} thường xuyên đóng cửa, người dân ốm không có chỗ khám.
Nhân viên y tế ở Bệnh viện Đa khoa tỉnh có thái độ rất khó chịu, quát mắng bệnh nhân.
Khu {place} có nhiều ca sốt xuất huyết, đề nghị phun thuốc diệt muỗi.
Quán ăn ở {place} dùng dầu rán đi rán lại đen kịt, rau rửa qua loa.
Hiệu thuốc ở {place} bán thuốc kháng sinh không cần đơn, nghi có thuốc giả.
Bếp ăn tập thể của công ty ở {place} dùng thực phẩm không rõ nguồn gốc.
Phòng khám tư ở {place} quảng cáo chữa bệnh thần kỳ, thu tiền rất cao.
Thịt lợn bán ở chợ {place} có màu lạ, nghi là thịt ôi, thịt lợn bệnh.
Ở bệnh viện chờ khám từ sáng đến trưa vẫn chưa đến lượt, nhiều người phải bỏ về.
Cơ sở làm bún ở {place} dùng chất tẩy trắng, sợi bún trắng bất thường.
Trẻ ở {place} chưa được tiêm chủng đầy đủ vì trạm thiếu vắc xin.
Thực phẩm chức năng không nhãn mác bán tràn lan trên mạng, người ở {place} mua uống bị mệt.
Sau đám cưới ở {place} mấy chục người bị nôn mửa, phải đi cấp cứu.
Rau bán ở chợ {place} nghi phun thuốc kích thích, ăn có vị đắng.
Nhân viên trạm y tế thu thêm tiền khi khám bảo hiểm cho trẻ em.
Xưởng làm đậu phụ ở {place} bẩn thỉu, vẫn giao hàng hằng ngày cho quán ăn.
Người bán trà sữa ở {place} dùng nguyên liệu không nhãn mác, các cháu uống xong bị đau bụng.
Dịch tay chân miệng đang lây lan ở {place}, nhiều cháu ở nhà trẻ bị lây.
Bác sĩ ở phòng khám đa khoa tư nhân kê đơn quá nhiều thuốc không cần thiết.
Có người bán rượu ngâm không rõ nguồn gốc ở {place}, uống vào bị đau đầu, chóng mặt.
""",
        details="""
Đề nghị đoàn kiểm tra an toàn thực phẩm xuống kiểm tra đột xuất.
Sức khỏe của người dân cần được đặt lên hàng đầu.
Nhiều người đã bị ảnh hưởng nhưng ngại không dám nói.
Hằng ngày cơ sở này cung cấp hàng cho rất nhiều quán ăn.
Tôi còn giữ lại hóa đơn và một phần sản phẩm.
Mong ngành y tế chấn chỉnh.
Người già và trẻ nhỏ rất dễ bị ảnh hưởng.
Đề nghị xử lý nghiêm, công khai tên cơ sở vi phạm.
Chúng tôi không biết phản ánh ở đâu nên gửi lên đây.
Hiện cả nhà vẫn còn mệt, phải nằm viện hai ngày.
Sản phẩm không có nhãn mác, không ghi ngày sản xuất.
Mong cơ quan chức năng lấy mẫu xét nghiệm.
""",
        asides="""
đồ ăn bán ở đó cũng không đảm bảo vệ sinh
mấy cháu còn bị đau bụng
trạm y tế thì đóng cửa
""",
    ),
    "education": Bank(
        cores="""
Trường tiểu học ở {place} thu nhiều khoản ngoài quy định như tiền máy chiếu, tiền điều hòa.
Cô giáo chủ nhiệm lớp con tôi ở {place} ép học sinh đi học thêm tại nhà cô.
Con tôi lớp 3 bị bạn cùng lớp bắt nạt nhiều lần mà nhà trường không xử lý.
Trường mầm non ở {place} quá tải, mỗi lớp hơn 40 cháu mà chỉ có hai cô.
Quỹ phụ huynh lớp con tôi thu 500 nghìn mỗi học kỳ mà không công khai chi tiêu.
Phòng học ở điểm trường {place} dột nát, bàn ghế gãy, mưa là học sinh phải nghỉ.
Tuyển sinh đầu cấp ở {place} không minh bạch, có trường hợp trái tuyến vẫn được nhận.
Nhà trường bắt mua đồng phục, sách giáo khoa tại trường với giá cao hơn ngoài hiệu sách.
Học sinh bán trú ở điểm trường {place} ăn uống kham khổ, bữa ăn không đủ chất.
Giáo viên ở trường {place} có lời lẽ xúc phạm học sinh trước cả lớp.
Con tôi đủ tuổi vào lớp 1 nhưng trường gần nhà ở {place} không nhận vì hết chỉ tiêu.
Trường ở {place} thiếu giáo viên tiếng Anh, tin học, cả học kỳ học sinh không được học.
Đề nghị làm rõ việc thu tiền học buổi chiều bắt buộc ở trường trung học cơ sở {place}.
Nhà vệ sinh của trường tiểu học ở {place} hỏng, học sinh phải nhịn cả buổi.
Có hiện tượng bạo lực học đường, học sinh đánh nhau quay clip đăng lên mạng.
Con tôi bị cô giáo mầm non đánh vào tay, về nhà có vết bầm.
Xin hỏi về chế độ miễn giảm học phí cho con em gia đình khó khăn năm học này.
Các cháu ở {place} phải đi bộ 5 cây số đến điểm trường, đề nghị mở lớp gần bản.
Trường bắt phụ huynh đóng tiền xây dựng cơ sở vật chất dù đã có ngân sách.
Học sinh trường ở {place} phải học ca ba vì thiếu phòng học.
Thời khóa biểu của trường thay đổi liên tục, phụ huynh không biết đón con lúc nào.
Nhà trường không trả học bạ cho học sinh chuyển trường vì chưa đóng đủ các khoản.
Đề nghị kiểm tra việc dạy thêm, học thêm tràn lan ở các trường trên địa bàn {place}.
Hiệu trưởng trường mầm non ở {place} thu tiền ăn nhưng cắt giảm suất ăn của các cháu.
""",
        details="""
Phụ huynh không dám lên tiếng vì sợ con bị trù dập.
Đề nghị phòng giáo dục và đào tạo kiểm tra.
Nhiều phụ huynh trong lớp có chung ý kiến.
Các cháu còn nhỏ, cần được quan tâm hơn.
Tôi có giữ các phiếu thu tiền của nhà trường.
Mong nhà trường công khai các khoản thu chi.
Năm học nào cũng xảy ra tình trạng này.
Con tôi về nhà sợ không dám đi học.
Đề nghị có biện pháp chấn chỉnh kịp thời.
Họp phụ huynh đã có ý kiến nhưng không được tiếp thu.
Chương trình học đã nặng, các cháu rất mệt.
Gia đình kinh tế khó khăn, các khoản đóng góp quá sức.
""",
        asides="""
con tôi đi học ngày nào cũng phải qua đây
học sinh tan trường rất đông
cô giáo cũng đã nhắc các cháu
""",
    ),
    "administrative_procedures": Bank(
        cores="""
Tôi nộp hồ sơ cấp lại căn cước ở {ward} đã quá hẹn hai tuần mà chưa có kết quả.
Cán bộ bộ phận một cửa phường gây khó dễ, bắt bổ sung giấy tờ nhiều lần.
Làm giấy khai sinh cho con ở phường mất cả tuần, lần nào đến cũng bảo cán bộ đi vắng.
Dịch vụ công trực tuyến hay bị lỗi, nộp hồ sơ online xong vẫn phải mang bản giấy lên.
Xin hỏi thủ tục đăng ký thường trú cho vợ về ở cùng tại {place} cần những giấy tờ gì?
Chứng thực bản sao ở {ward} phải xếp hàng cả buổi, mỗi ngày chỉ làm vài chục bộ.
Đăng ký kết hôn ở phường bị yêu cầu nộp giấy tờ không cần thiết.
Cán bộ tiếp dân ở {ward} có thái độ hách dịch, bảo tôi về chờ mà không hẹn ngày trả kết quả.
Tài khoản định danh điện tử mức 2 của tôi đăng ký ba tháng chưa được kích hoạt.
Xin xác nhận cư trú để đi xin việc, phường bảo lên công an, công an bảo về phường.
Hồ sơ khai tử cho bố tôi nộp ở {ward} đã lâu chưa có trích lục.
Đề nghị niêm yết công khai lệ phí các thủ tục, có nơi thu tiền không có biên lai.
Bộ phận tiếp nhận và trả kết quả ở {ward} chỉ làm việc buổi sáng, người đi làm không kịp.
Tôi muốn đăng ký tạm trú cho người thuê trọ nhưng phần mềm báo lỗi suốt.
Cán bộ phường gợi ý đưa thêm tiền để làm nhanh giấy tờ, như vậy là nhũng nhiễu dân.
Hướng dẫn thủ tục trên cổng dịch vụ công khác với hướng dẫn của cán bộ ở phường.
Xin hỏi sau sáp nhập phường, giấy tờ ghi địa chỉ {old} cũ có phải làm lại không?
Xin xác nhận thông tin cư trú mà bị hẹn đi hẹn lại nhiều lần.
Sao y giấy tờ ở {ward} phải chờ đến chiều mới lấy được, rất bất tiện.
Nộp hồ sơ đăng ký hộ kinh doanh ở phường hơn tháng chưa được cấp giấy.
Máy lấy số thứ tự ở bộ phận một cửa hỏng, người đến trước làm sau, lộn xộn.
Xin cấp bản sao trích lục khai sinh cho con mà cán bộ bảo phải về quê gốc xin.
Tôi được hẹn trả kết quả chứng thực chữ ký hôm thứ hai nhưng đến thứ sáu vẫn chưa có.
Cán bộ hộ tịch ở {ward} nghỉ phép cả tuần, không có người làm thay.
""",
        details="""
Tôi phải xin nghỉ làm nhiều buổi để đi lại.
Đề nghị lãnh đạo phường chấn chỉnh tác phong cán bộ.
Người dân chỉ mong thủ tục đơn giản, nhanh gọn.
Mỗi lần lên lại bị yêu cầu thêm một loại giấy.
Thông báo niêm yết không rõ ràng, dân không biết hỏi ai.
Tôi đã gọi số đường dây nóng của phường nhưng không ai nghe.
Người già đi lại rất vất vả.
Mong được trả lời cụ thể cần chuẩn bị những gì.
Việc chậm trễ làm ảnh hưởng đến công việc của gia đình.
Các phường khác làm nhanh hơn nhiều.
Đề nghị có hướng dẫn bằng văn bản.
Hỏi thì cán bộ bảo chờ cấp trên ký.
""",
        asides="""
lên phường làm giấy tờ thì bị hẹn mãi
hồ sơ nộp ở phường cũng chưa xong
hỏi cán bộ một cửa thì không ai trả lời
""",
    ),
}


def split_of(position: int) -> str:
    """Which split a bank entry belongs to (see the module docstring)."""
    if position % 4 == 1:
        return "test"
    if position % 8 == 3:
        return "dev"
    return "train"


def held(entries: list[str], split: str) -> list[str]:
    """The entries of a bank that ``split`` may use."""
    mine = [entry for position, entry in enumerate(entries) if split_of(position) == split]
    if not mine:  # a bank too small to give every split an entry: dev reuses train's
        mine = [entry for position, entry in enumerate(entries) if split_of(position) == "train"]
    return mine


# --- Surface forms -------------------------------------------------------------------

_TEENCODE: list[tuple[str, tuple[str, ...]]] = [
    ("số điện thoại", ("sdt", "sđt")),
    ("ủy ban nhân dân", ("ubnd",)),
    ("tổ dân phố", ("tdp",)),
    ("thế nào", ("ntn",)),
    ("mọi người", ("mn", "mng")),
    ("hôm nay", ("hnay", "hum nay")),
    ("hôm qua", ("hqua", "hum qua")),
    ("xe máy", ("xm", "xe mai")),
    ("thành phố", ("tp",)),
    ("bây giờ", ("bh", "bjo")),
    ("không", ("ko", "k", "kh", "hok", "khg")),
    ("được", ("dc", "đc", "dk")),
    ("gì", ("j", "gi")),
    ("người", ("ng",)),
    ("rồi", ("r", "roài")),
    ("với", ("vs", "vói")),
    ("biết", ("bt", "bit")),
    ("nước", ("nc", "nuoc")),
    ("cũng", ("cx", "cg")),
    ("trước", ("trc",)),
    ("làm", ("lm",)),
    ("quá", ("qá", "wa")),
    ("vậy", ("z", "v")),
    ("anh chị", ("ac", "a c")),
    ("yêu cầu", ("yc",)),
    ("ạ", ("a", "ah")),
    ("nhé", ("nha", "nhe")),
    ("phường", ("p.", "p")),
]


def strip_marks(text: str) -> str:
    """The text typed without diacritics (đ → d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    )


def _abbreviation(
    phrase: str, forms: tuple[str, ...], rng: random.Random
) -> Callable[[re.Match[str]], str]:
    """Most occurrences of ``phrase`` abbreviated to one of ``forms``, some left whole."""

    def replace(_: re.Match[str]) -> str:
        return rng.choice(forms) if rng.random() < 0.8 else phrase

    return replace


def teencode(text: str, rng: random.Random) -> str:
    """Chat style: abbreviations, lowercase, little punctuation, no diacritics."""
    text = text.lower()
    for phrase, forms in _TEENCODE:
        pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")
        text = pattern.sub(_abbreviation(phrase, forms, rng), text)
    text = strip_marks(text)
    if rng.random() < 0.7:
        text = re.sub(r"[.,;:]+(\s|$)", lambda m: " " if rng.random() < 0.7 else m.group(0), text)
    if rng.random() < 0.3:
        text = text.replace("!", "!!!").replace("?", "??")
    return re.sub(r"\s+", " ", text).strip()


def casual(text: str, rng: random.Random) -> str:
    """Accented, typed fast: sometimes lowercase, sometimes without the final stop."""
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.3:
        text = text.rstrip(".")
    return text


# --- Composition ---------------------------------------------------------------------


def fill(template: str, rng: random.Random) -> str:
    """The template with its place slots filled."""
    return (
        template.replace("{place}", rng.choice(STREETS + AREAS))
        .replace("{street}", rng.choice(STREETS))
        .replace("{ward}", rng.choice(WARDS + OLD_WARDS))
        .replace("{old}", rng.choice(OLD_WARDS))
    )


def compose(category: str, split: str, rng: random.Random) -> dict[str, object]:
    """One labelled report of ``category`` made of ``split``'s bank entries."""
    bank = BANKS[category]
    core = fill(rng.choice(held(bank.cores, split)), rng)
    length = rng.choices(["short", "medium", "long"], weights=[3, 4, 3])[0]
    mixed: str | None = None
    parts: list[str]
    if length == "short":
        head = core.split(",")[0].rstrip(".?")
        # Cut at the first comma only where what remains still says something.
        parts = [head if len(head.split()) >= 6 and rng.random() < 0.5 else core]
    else:
        parts = []
        if rng.random() < 0.6:
            parts.append(fill(rng.choice(held(OPENERS, split)), rng))
        if parts and parts[-1].endswith((",", ":")):
            core = core[0].lower() + core[1:]  # the core goes on the opener's sentence
        parts.append(core)
        details = held(bank.details, split)
        count = 1 if length == "medium" else rng.randint(2, 3)
        parts.extend(rng.sample(details, min(count, len(details))))
        if rng.random() < 0.5:
            when = rng.choice(held(WHEN, split))
            parts.insert(rng.randint(2 if len(parts) > 2 else 1, len(parts)), when)
        if length == "long" or rng.random() < 0.25:
            mixed = rng.choice([code for code in BANKS if code != category])
            aside = rng.choice(held(BANKS[mixed].asides, split))
            frame = rng.choice(held(ASIDE_FRAMES, split))
            parts.insert(rng.randint(2, len(parts)), frame.replace("{aside}", aside))
        if rng.random() < 0.6:
            parts.append(rng.choice(held(CLOSERS, split)))
    text = " ".join(parts)
    form = rng.choices(["accented", "plain", "teencode"], weights=[5, 2.5, 2.5])[0]
    if form == "accented":
        text = casual(text, rng)
    elif form == "plain":
        text = strip_marks(text)
    else:
        text = teencode(text, rng)
    text = unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())
    return {
        "category": category,
        "text": text,
        "form": form,
        "length": length,
        "mixed_with": mixed,
    }


def corpus() -> dict[str, list[dict[str, object]]]:
    """The three splits, every category in each."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    splits: dict[str, list[dict[str, object]]] = {}
    for split, size in SIZES.items():
        rows: list[dict[str, object]] = []
        for category in BANKS:
            made = 0
            while made < size:
                row = compose(category, split, rng)
                if row["text"] in seen:
                    continue
                seen.add(str(row["text"]))
                rows.append(row)
                made += 1
        rng.shuffle(rows)
        splits[split] = [{"id": f"{split}-{n:04d}", **row} for n, row in enumerate(rows, 1)]
    return splits


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for split, rows in corpus().items():
        lines = (json.dumps(row, ensure_ascii=False) for row in rows)
        (OUT / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{split}: {len(rows)} reports -> {OUT / f'{split}.jsonl'}")


if __name__ == "__main__":
    main()
