"""The made-up world of the demo: its people, places, words and catalogue.

Everything here was written for Formflow's demo; nothing is copied from a real data set.
Place names and administrative division codes are the public ones of real districts, so
credit codes and addresses look right; company names put a place, an invented trade name,
a line of business and a legal form together.
"""

from __future__ import annotations

from dataclasses import dataclass

# the people of the demo company ------------------------------------------------------

DEPARTMENTS = (("销售部", None), ("华东区", "销售部"), ("华南区", "销售部"), ("财务部", None))

# username, name, role, department; the first of each department's people manages it.
STAFF = (
    ("wangqiang", "王强", "sales_director", "销售部"),
    ("lijing", "李静", "sales_manager", "华东区"),
    ("liuyang", "刘洋", "sales_rep", "华东区"),
    ("chenjie", "陈杰", "sales_rep", "华东区"),
    ("yangxue", "杨雪", "sales_rep", "华东区"),
    ("zhouhao", "周浩", "sales_manager", "华南区"),
    ("zhaolei", "赵磊", "sales_rep", "华南区"),
    ("huangmin", "黄敏", "sales_rep", "华南区"),
    ("wuting", "吴婷", "sales_rep", "华南区"),
    ("sunli", "孙丽", "finance", "财务部"),
)
DIRECTOR = "wangqiang"
FINANCE = "sunli"
TEAMS = {"华东区": "east_china", "华南区": "south_china"}

# made-up data: places, names and words -------------------------------------------------


@dataclass(frozen=True)
class Place:
    province: str
    city: str
    region: str
    area_code: str
    landline_digits: int
    districts: tuple[tuple[str, str], ...]  # (name, administrative division code)
    streets: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.city.removesuffix("市")


PLACES = (
    Place("上海市", "上海市", "east_china", "21", 8,
          (("浦东新区", "310115"), ("徐汇区", "310104"), ("闵行区", "310112"), ("静安区", "310106"), ("嘉定区", "310114")),
          ("张江路", "世纪大道", "宜山路", "虹梅路", "江场西路", "金科路", "博园路")),
    Place("江苏省", "苏州市", "east_china", "512", 8,
          (("姑苏区", "320508"), ("吴中区", "320506"), ("虎丘区", "320505"), ("相城区", "320507")),
          ("星湖街", "金鸡湖大道", "竹园路", "干将西路", "东吴北路")),
    Place("江苏省", "南京市", "east_china", "25", 8,
          (("玄武区", "320102"), ("鼓楼区", "320106"), ("江宁区", "320115"), ("建邺区", "320105")),
          ("中山路", "江东中路", "将军大道", "珠江路", "龙眠大道")),
    Place("浙江省", "杭州市", "east_china", "571", 8,
          (("西湖区", "330106"), ("滨江区", "330108"), ("余杭区", "330110"), ("拱墅区", "330105")),
          ("文三路", "江南大道", "文一西路", "莫干山路", "网商路")),
    Place("浙江省", "宁波市", "east_china", "574", 8,
          (("鄞州区", "330212"), ("海曙区", "330203")),
          ("天童南路", "中山西路", "四明中路")),
    Place("广东省", "深圳市", "south_china", "755", 8,
          (("南山区", "440305"), ("福田区", "440304"), ("宝安区", "440306"), ("龙岗区", "440307")),
          ("科技南路", "深南大道", "宝安大道", "龙岗大道", "高新南一道")),
    Place("广东省", "广州市", "south_china", "20", 8,
          (("天河区", "440106"), ("海珠区", "440105"), ("番禺区", "440113"), ("黄埔区", "440112")),
          ("天河路", "新港东路", "科学大道", "市桥路", "黄埔大道")),
    Place("广东省", "佛山市", "south_china", "757", 8,
          (("南海区", "440605"), ("顺德区", "440606")),
          ("南海大道", "德和路", "季华路")),
    Place("广西壮族自治区", "南宁市", "south_china", "771", 7,
          (("青秀区", "450103"), ("西乡塘区", "450107")),
          ("民族大道", "金湖路", "科园大道")),
    Place("北京市", "北京市", "north_china", "10", 8,
          (("海淀区", "110108"), ("朝阳区", "110105")),
          ("中关村大街", "建国路", "学院路")),
    Place("湖北省", "武汉市", "central_china", "27", 8,
          (("洪山区", "420111"), ("江汉区", "420103")),
          ("光谷大道", "建设大道", "珞喻路")),
    Place("四川省", "成都市", "southwest", "28", 8,
          (("武侯区", "510107"), ("锦江区", "510104")),
          ("天府大道", "人民南路", "科华北路")),
)  # fmt: skip

# Trade names (字号), with the pinyin used for web and mail addresses.
TRADE_NAMES = (
    ("华信", "huaxin"), ("博远", "boyuan"), ("瑞丰", "ruifeng"), ("鼎盛", "dingsheng"),
    ("恒通", "hengtong"), ("启明", "qiming"), ("金桥", "jinqiao"), ("天成", "tiancheng"),
    ("嘉禾", "jiahe"), ("汇智", "huizhi"), ("同创", "tongchuang"), ("远航", "yuanhang"),
    ("海纳", "haina"), ("卓越", "zhuoyue"), ("新锐", "xinrui"), ("宏图", "hongtu"),
    ("弘毅", "hongyi"), ("明德", "mingde"), ("安捷", "anjie"), ("锦程", "jincheng"),
    ("致远", "zhiyuan"), ("思源", "siyuan"), ("盛景", "shengjing"), ("睿博", "ruibo"),
    ("泰和", "taihe"), ("德润", "derun"), ("佳盛", "jiasheng"), ("联拓", "liantuo"),
    ("云帆", "yunfan"), ("蓝海", "lanhai"), ("星辰", "xingchen"), ("精工", "jinggong"),
    ("鑫源", "xinyuan"), ("和泰", "hetai"), ("润泽", "runze"), ("智谷", "zhigu"),
    ("创源", "chuangyuan"), ("汇通", "huitong"), ("正阳", "zhengyang"), ("东升", "dongsheng"),
    ("九洲", "jiuzhou"), ("凌云", "lingyun"), ("绿源", "lvyuan"), ("长青", "changqing"),
    ("坤元", "kunyuan"), ("瀚海", "hanhai"), ("翔宇", "xiangyu"), ("聚力", "juli"),
    ("同泰", "tongtai"), ("天瑞", "tianrui"), ("君和", "junhe"), ("华锐", "huarui"),
    ("安泰", "antai"), ("锐思", "ruisi"), ("朗润", "langrun"), ("景行", "jingxing"),
    ("方圆", "fangyuan"), ("明远", "mingyuan"), ("沃达", "woda"), ("启航", "qihang"),
)  # fmt: skip

# Lines of business: words, their industry option, a mark for web addresses, a short form.
TRADES = (
    ("信息技术", "it", "tech", "信息"), ("网络科技", "it", "net", "网络"),
    ("软件", "it", "soft", "软件"), ("智能科技", "it", "ai", "智能"),
    ("数据科技", "it", "data", "数据"), ("精密机械", "manufacturing", "jm", "精密"),
    ("电子", "manufacturing", "elec", "电子"), ("新材料", "manufacturing", "nm", "材料"),
    ("自动化设备", "manufacturing", "auto", "自动化"), ("汽车零部件", "manufacturing", "parts", "汽配"),
    ("医疗器械", "healthcare", "med", "医疗"), ("生物医药", "healthcare", "bio", "生物"),
    ("供应链管理", "logistics", "scm", "供应链"), ("物流", "logistics", "wl", "物流"),
    ("商贸", "retail", "trade", "商贸"), ("电子商务", "retail", "ec", "电商"),
    ("教育科技", "education", "edu", "教育"), ("建设工程", "real_estate", "build", "建设"),
    ("建筑设计", "real_estate", "design", "设计"), ("能源科技", "energy", "energy", "能源"),
    ("环保科技", "energy", "eco", "环保"), ("化工", "energy", "chem", "化工"),
    ("融资租赁", "finance", "lease", "租赁"), ("管理咨询", "services", "consult", "咨询"),
    ("人力资源服务", "services", "hr", "人力"),
)  # fmt: skip

SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"),
    ("罗", "luo"), ("高", "gao"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
    ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"), ("袁", "yuan"),
    ("蔡", "cai"), ("蒋", "jiang"), ("余", "yu"), ("杜", "du"), ("叶", "ye"), ("程", "cheng"),
    ("魏", "wei"), ("苏", "su"), ("丁", "ding"), ("沈", "shen"), ("姚", "yao"), ("陆", "lu"),
)  # fmt: skip
GIVEN = {
    "male": (
        ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("勇", "yong"), ("杰", "jie"),
        ("涛", "tao"), ("斌", "bin"), ("超", "chao"), ("明", "ming"), ("刚", "gang"), ("辉", "hui"),
        ("鹏", "peng"), ("飞", "fei"), ("波", "bo"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"),
        ("健", "jian"), ("俊", "jun"), ("帆", "fan"), ("志", "zhi"), ("建", "jian"), ("国", "guo"),
        ("文", "wen"), ("博", "bo"), ("晨", "chen"), ("阳", "yang"), ("峰", "feng"), ("毅", "yi"),
    ),
    "female": (
        ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
        ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("霞", "xia"), ("燕", "yan"), ("玲", "ling"),
        ("倩", "qian"), ("颖", "ying"), ("慧", "hui"), ("洁", "jie"), ("佳", "jia"), ("欣", "xin"),
        ("悦", "yue"), ("萍", "ping"), ("红", "hong"), ("莉", "li"), ("晓", "xiao"), ("梅", "mei"),
    ),
}  # fmt: skip

# Job titles: (title, department, buying role).
TITLES = (
    ("总经理", "总经办", "decision_maker"), ("副总经理", "总经办", "decision_maker"),
    ("采购总监", "采购部", "decision_maker"), ("采购经理", "采购部", "influencer"),
    ("信息中心主任", "信息中心", "decision_maker"), ("IT经理", "信息中心", "influencer"),
    ("财务经理", "财务部", "influencer"), ("技术负责人", "技术部", "influencer"),
    ("项目经理", "技术部", "user"), ("运营主管", "运营部", "user"),
    ("销售运营专员", "销售部", "user"), ("行政主管", "行政部", "gatekeeper"),
    ("总经理助理", "总经办", "gatekeeper"),
)  # fmt: skip

MOBILE_PREFIXES = (
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

BANKS = ("中国工商银行", "中国建设银行", "中国银行", "招商银行", "交通银行", "兴业银行")

# code, name, category, specification, unit, list price, active, description
PRODUCTS = (
    ("SW-CRM-STD", "云CRM 标准版（年订阅）", "software", "按账号计费，含移动端", "seat", "1200", True, "客户、联系人、跟进、商机与销售漏斗，适合 50 人以下销售团队。"),
    ("SW-CRM-PRO", "云CRM 专业版（年订阅）", "software", "按账号计费，含审批流与仪表盘", "seat", "2400", True, "在标准版基础上增加审批流程、报价合同、回款管理与自定义仪表盘。"),
    ("SW-ERP-BASE", "进销存管理系统", "software", "单组织，含 20 个账号", "set", "38000", True, "采购、销售、库存与财务对账一体化，支持多仓库。"),
    ("SW-BI", "经营数据分析平台", "software", "含 10 个设计者账号", "set", "68000", True, "拖拽式报表与驾驶舱，支持对接 ERP、CRM 与 Excel 数据源。"),
    ("SW-HR", "人力资源管理系统", "software", "500 人以内", "set", "45000", True, "组织人事、考勤排班、薪酬社保与员工自助。"),
    ("SW-API", "开放接口扩展包", "software", "每年 100 万次调用", "year", "12000", True, "提供标准 REST 接口，用于与企业现有系统集成。"),
    ("SW-OLD-CS", "客户端版 CRM（旧版）", "software", "单机授权", "set", "8800", False, "已停售，仅为老客户提供维护。"),
    ("HW-SRV-2U", "机架式服务器", "hardware", "2U 双路，64G 内存，4×4T", "unit", "45000", True, "私有化部署推荐配置。"),
    ("HW-PDA", "工业手持终端（PDA）", "hardware", "安卓系统，支持一维/二维码", "unit", "2800", True, "仓库收发货与盘点扫码。"),
    ("HW-GW", "工业物联网网关", "hardware", "4G/以太网，8 路串口", "unit", "3600", True, "采集设备运行数据并上传平台。"),
    ("HW-SCAN", "条码扫描枪", "hardware", "有线 USB", "piece", "680", True, "门店与仓库扫码。"),
    ("SV-IMPL", "实施服务", "service", "顾问驻场或远程", "person_day", "2000", True, "需求调研、系统配置、数据导入与上线支持。"),
    ("SV-TRAIN", "培训服务", "service", "每期不超过 30 人", "person_day", "1500", True, "管理员与最终用户培训。"),
    ("SV-OPS", "年度运维服务", "service", "7×12 小时响应", "year", "30000", True, "系统巡检、故障处理与版本升级。"),
    ("CS-DX", "数字化转型咨询", "consulting", "高级顾问", "person_day", "5000", True, "业务流程梳理与数字化规划。"),
)  # fmt: skip

SOLD = tuple(p for p in PRODUCTS if p[6] and p[2] in ("software", "hardware"))

# project names and the products that go into their quotes: (name, [(code, qty range)])
PROJECTS = (
    ("CRM 系统采购项目", (("SW-CRM-PRO", (20, 120)), ("SV-IMPL", (5, 20)), ("SV-TRAIN", (2, 4)))),
    ("销售管理系统升级", (("SW-CRM-STD", (10, 60)), ("SV-IMPL", (3, 10)))),
    ("进销存系统建设项目", (("SW-ERP-BASE", (1, 1)), ("HW-PDA", (5, 30)), ("SV-IMPL", (10, 30)))),
    ("经营分析平台项目", (("SW-BI", (1, 1)), ("SV-IMPL", (8, 25)), ("CS-DX", (2, 6)))),
    ("人力资源系统项目", (("SW-HR", (1, 1)), ("SV-IMPL", (5, 15)), ("SV-TRAIN", (1, 3)))),
    ("仓库扫码改造项目", (("HW-PDA", (10, 40)), ("HW-SCAN", (10, 50)), ("SW-API", (1, 1)))),
    ("设备联网试点项目", (("HW-GW", (10, 60)), ("HW-SRV-2U", (1, 2)), ("SV-IMPL", (5, 15)))),
    ("年度运维服务续约", (("SV-OPS", (1, 1)),)),
    ("数字化规划咨询", (("CS-DX", (5, 20)),)),
)  # fmt: skip

COMPETITORS = (
    ("智客云CRM", "https://www.zhikeyun.example.cn", "high", "SaaS CRM、营销自动化", "品牌知名度高，渠道多，报价灵活", "定制能力弱，私有化部署价格高", "标准版每账号每年约 980 元，大客户可谈折扣"),
    ("易销通", "https://www.yixiaotong.example.cn", "medium", "销售管理、移动外勤", "移动端体验好，上线快", "报表与审批功能较弱", "按账号年付，常以首年五折促销"),
    ("睿达软件", "https://www.ruida-soft.example.cn", "medium", "ERP、进销存", "制造业案例多，本地实施团队强", "产品界面老旧，接口不开放", "项目制报价，实施费用占比高"),
    ("数策科技", "https://www.shuce.example.cn", "low", "BI 报表", "可视化效果好", "缺少业务系统，需要第三方集成", "按服务器授权"),
    ("汇客通", "https://www.huiketong.example.cn", "low", "客服工单、呼叫中心", "呼叫中心集成成熟", "销售过程管理不完整", "坐席按月计费"),
)  # fmt: skip

PAINS = ("销售过程不透明", "客户资料分散在个人手里", "回款跟踪靠 Excel", "库存数据不准确", "审批流程太慢", "月底报表统计耗时", "销售人员离职带走客户")  # fmt: skip
FEATURES = ("移动端拜访签到", "销售漏斗报表", "审批流程配置", "与现有 ERP 对接", "数据权限控制", "回款提醒", "客户公海规则")  # fmt: skip
CONCERNS = ("价格和付款方式", "历史数据迁移", "上线周期", "售后响应时间", "私有化部署", "账号数量与扩容费用")  # fmt: skip
NEXT_STEPS = ("准备方案和报价", "安排产品演示", "邀请技术负责人参加交流", "跟进报价审批进度", "确认合同条款", "发送成功案例资料")  # fmt: skip
FOLLOW_UPS = {
    "phone": (
        "电话联系{contact}，介绍了{product}的主要功能。对方目前{pain}，有改进意向，约定下周再沟通。",
        "电话回访{contact}，对方表示内部还在比较几家供应商，比较关注{concern}。",
        "与{contact}电话确认需求范围，重点是{feature}，已答应尽快{next}。",
    ),
    "visit": (
        "上门拜访{contact}，现场了解到{pain}，演示了{product}，客户对{feature}比较感兴趣。",
        "拜访客户总部，与{contact}及使用部门座谈，梳理了现有流程，下一步{next}。",
    ),
    "wechat": (
        "微信发送了{product}的产品资料和同行业案例，{contact}回复会在内部讨论后反馈。",
        "微信沟通，{contact}询问{concern}方面的安排，已整理说明发给对方。",
    ),
    "email": (
        "邮件发送方案说明与报价，请{contact}确认{feature}部分的需求。",
        "邮件回复客户关于{concern}的问题，并附上服务承诺说明。",
    ),
    "meeting": (
        "与{contact}及技术团队召开线上会议，确认了实施范围和时间计划，客户关注{concern}。",
        "参加客户的供应商交流会，介绍了{product}在{feature}方面的做法。",
    ),
}  # fmt: skip
STAGES = (
    # stage, probability, how many opportunities
    ("initial_contact", 10, 14), ("needs_analysis", 20, 14), ("proposal", 50, 12),
    ("negotiation", 80, 10), ("won", 100, 16), ("lost", 0, 8),
)  # fmt: skip
LEAD_REQUIREMENTS = (
    "想了解销售管理系统，销售团队约 {n} 人，希望能在手机上记录拜访。",
    "官网留言：需要进销存系统，现在用 Excel 管库存，经常对不上账。",
    "展会上留下名片，对经营数据分析平台感兴趣，希望看演示。",
    "老客户介绍，计划今年上线人力资源系统，预算待定。",
    "咨询仓库扫码方案，大约需要 {n} 台手持终端。",
    "希望把现有 ERP 与 CRM 打通，避免重复录入订单。",
)  # fmt: skip
TICKETS = (
    ("系统登录偶尔超时", "repair", "high", "早上 9 点左右多名销售反映登录缓慢，偶尔超时。", "排查为客户网络出口带宽不足，已协助调整 DNS 并优化缓存，问题解决。"),
    ("申请增加 20 个用户账号", "consultation", "medium", "新成立华北销售团队，需要增加账号，询问价格与开通时间。", "已报价并在合同补充协议签订后开通。"),
    ("报表导出格式咨询", "consultation", "low", "希望销售漏斗报表能按月导出为 Excel。", "已远程演示导出功能并提供操作手册。"),
    ("手持终端无法开机", "repair", "urgent", "仓库 3 台手持终端充电后无法开机，影响当天发货。", "更换电池并寄送备用机，已恢复使用。"),
    ("对实施进度不满意", "complaint", "high", "客户反映实施顾问更换频繁，上线时间比计划晚两周。", ""),
    ("数据导入报错", "repair", "medium", "导入历史客户数据时提示第 152 行格式错误。", "原因是日期格式不一致，已协助清洗数据后导入成功。"),
    ("审批流程调整咨询", "consultation", "medium", "希望合同金额超过 50 万时增加总经理审批。", ""),
    ("发票信息有误", "complaint", "medium", "收到的发票开户行信息有误，需要重开。", "财务已作废原发票并重新开具。"),
)  # fmt: skip
SOURCES = (
    "website",
    "exhibition",
    "cold_call",
    "referral",
    "advertising",
    "social_media",
    "partner",
)
POOL_REASONS = (
    "超过 30 天未跟进，系统自动退回公海。",
    "客户今年暂无采购计划，手动退回公海。",
    "联系人已离职，暂时无法推进，退回公海。",
)
