// Words of the console and the tip page: Chinese first, English on request.

const zh = {
  rule_site_check: '卫片图斑须先有实地核查（结论为违法）记录，才能立案', rule_dismiss: '不予立案须在备注中写明理由',
  leadership_reported: '报告领导小组', rule_forced_ok: '强制拆除：通知已送达、已报告领导小组，可标记已整改',
  rule_forced_missing: (m) => `强制拆除：须先${m}，才能标记已整改`,
  towns: '镇街', code: '代码', new_campaign: '新建专项行动', starts: '开始', ends: '结束',
  towns_hint: '上传镇街边界 GeoJSON（FeatureCollection，每个面带 code 与 name）；按代码更新，重复上传不改变任何内容',
  towns_imported: (c, u, n) => `新建 ${c} 个，更新 ${u} 个，${n} 个未变`,
  over_time: '逐月整改进展（已整改及以后 / 案件总数）与整改期限',
  edit: '修改字段', land_class: '用地性质', disposition: '处置方式', notice_served: '送达通知日期', saved: '已保存',
  nothing_changed: '没有改动', stale: '案件已被他人修改，请刷新后再改', period: '期间', days: '天',
  import_hint: '上传卫片图斑 GeoJSON（FeatureCollection，每个图斑带 patch_id）或 Shapefile 的 zip 文件；同一图斑再次导入不会重复立案',
  uploading_file: '正在上传', not_geojson: '不是 GeoJSON 文件', patch: '图斑编号', new: '新建', already: '已导入过',
  imported: (c, e, u) => `新建 ${c} 个案件，${e} 个已导入过，${u} 个在镇街范围外（待分配）`,
  title: '宝坻区土地执法巡查', console: '管理台', r_total: '案件总数', r_open: '未办结', r_opened: '期内新增',
  r_closed: '期内销号', r_rectified: '整改率 %', r_accepted: '验收率 %', r_targets: '目标进展', notify: '开启桌面通知', sign_in: '登录', sign_out: '退出', username: '用户名',
  password: '密码', signing_in: '正在登录…', bad_login: '用户名或密码错误', locked: '尝试过多，请稍后再试',
  inbox: '预警', cases: '案件', tips: '群众举报', webhooks: '推送接口', map: '全区地图', report: '月度进展',
  acceptance: '验收', users: '用户', import: '卫片导入', unread: '未读', ack: '已阅', ack_all: '全部已阅', acked: '已阅',
  live: '实时', reconnecting: '重新连接…', no_alerts: '没有预警', status: '状态', source: '来源', overdue: '超期',
  deadline: '整改期限', town: '镇街', all: '全部', filter: '筛选', number: '编号', description: '描述',
  address: '地址', created: '发现时间', updated: '更新', open: '打开', back: '返回', photos: '照片',
  history: '台账记录', inspections: '巡查记录', transitions: '可办理', note: '备注', do: '办理',
  near_boundary: '靠近镇界', location: '位置', violation: '违法类型', area: '面积', save: '保存',
  reassign: '移交', to_town: '移交至', unassigned: '待分配', none: '无', loading: '加载中…',
  triage: '处理', make_case: '立案', merge: '并入案件', reject: '不予受理', reject_note: '不予受理的理由',
  duplicates: '附近可能重复的案件', url: '地址', secret: '密钥', pause: '暂停', resume: '恢复',
  rotate: '更换密钥', deliveries: '推送记录', register: '登记', delete: '删除', active: '启用', paused: '已暂停',
  as_of: '截至', download_csv: '下载 CSV', met: '已完成', on_track: '进展正常', at_risk: '有风险', not_met: '未完成',
  accept: '验收通过', fail: '验收不通过', to_check: '待验收', role: '角色', display_name: '名称', disable: '停用',
  enable: '启用', new_user: '新用户', campaigns: '专项行动', import_patches: '导入卫片图斑', upload: '上传',
  hide_empty: '隐藏无数据的镇街', language: 'English', error: '出错了', forbidden: '无权限', not_found: '未找到',
  report_problem: '举报违法用地', pick_place: '在地图上点选位置，或使用手机定位', use_location: '使用我的位置',
  what_happening: '发生了什么？', attach_photos: '添加照片', contact_optional: '联系方式（可选）', name: '姓名',
  phone: '电话', email: '邮箱', submit: '提交举报', uploading: '正在上传照片…', submitted: '举报已受理',
  receipt: '回执', keep_receipt: '请保存此链接，用于查询处理进展', tip_status: '举报处理进展',
  public_received: '已受理', public_in_progress: '处理中', public_closed: '已办结', place_picked: '已选位置',
  need_place: '请先选择位置', need_description: '请描述情况', retry: '重试', since: '已过',
  far: (m) => `照片拍摄地点距报告位置 ${(m / 1000).toFixed(1)} 公里`,
  time: (s) => `照片拍摄时间与报告时间相差 ${Math.round(Math.abs(s) / 60)} 分钟`,
  // The public tip page.
  optional: '（可选）', description_placeholder: '例如：村东头耕地上正在盖砖房，已经盖到两层',
  address_placeholder: '村名、路名或附近的标志', contact_hint: '仅负责处理的镇街可见，用于核实情况；可以不填',
  map_hint: '地图只显示镇街边界和经纬网格：请使用手机定位，或点选大致位置，并在地址中说明', zoom_in: '放大', zoom_out: '缩小',
  locating: '正在定位…', location_failed: '无法获取位置，请在地图上点选', outside_baodi: '（该位置不在宝坻区范围内）',
  photo_preparing: '正在读取…', uploading_one: '上传中', photo_uploaded: '已上传', resuming: '网络中断，正在续传…',
  photo_unreadable: '无法读取这张照片', photo_refused: (n) => `照片“${n}”未被接受`, remove: '移除', sending: '正在提交…',
  network_error: '网络连接失败。您填写的内容都已保留，请稍后再点“提交举报”。',
  server_error: '服务暂时不可用。您填写的内容都已保留，请稍后再试。',
  rate_limited: (s) => `提交过于频繁，请在 ${s < 60 ? `${s} 秒` : `${Math.ceil(s / 60)} 分钟`}后再试。您填写的内容都已保留。`,
  received_at: '受理时间', updated_at: '最近更新', case_number: '案件编号', open_status: '查看处理进展',
  copy_link: '复制链接', copied: '已复制', new_report: '再举报一条', refresh: '刷新', my_reports: '我的举报（本机）',
  receipt_not_found: '未找到这条举报，请检查链接是否完整', explain_received: '举报已受理，等待核查处理。',
  explain_in_progress: '已立案查处，正在处理中。', explain_closed: '此举报已办结。',
};

const en = {
  rule_site_check: 'A satellite lead needs an on-site check with the result illegal before it is registered', rule_dismiss: 'Dismissing needs the reason in the note',
  leadership_reported: 'report to the leadership group', rule_forced_ok: 'Forced demolition: notice served and the leadership group informed; it may be marked rectified',
  rule_forced_missing: (m) => `Forced demolition: first ${m}, then it may be marked rectified`,
  towns: 'Towns', code: 'Code', new_campaign: 'New campaign', starts: 'Starts', ends: 'Ends',
  towns_hint: 'Upload town boundaries as GeoJSON (a FeatureCollection, each polygon with code and name); keyed by code, so the same file again changes nothing',
  towns_imported: (c, u, n) => `${c} created, ${u} updated, ${n} unchanged`,
  over_time: 'Month by month: cases rectified or further / all cases, against the deadlines',
  edit: 'Edit fields', land_class: 'Land class', disposition: 'Disposition', notice_served: 'Notice served on', saved: 'saved',
  nothing_changed: 'Nothing changed', stale: 'Someone else changed the case; reload and edit again', period: 'Period', days: 'days',
  import_hint: 'Upload satellite patches as GeoJSON (a FeatureCollection, each patch with a patch_id) or as a zipped shapefile; importing a patch again makes no second case',
  uploading_file: 'Uploading', not_geojson: 'Not a GeoJSON file', patch: 'Patch', new: 'new', already: 'imported before',
  imported: (c, e, u) => `${c} cases created, ${e} imported before, ${u} outside every town (unassigned)`,
  title: 'Baodi land-use patrol', console: 'Console', r_total: 'Cases', r_open: 'Open', r_opened: 'Opened',
  r_closed: 'Closed', r_rectified: 'Rectified %', r_accepted: 'Accepted %', r_targets: 'Targets', notify: 'Turn on notifications', sign_in: 'Sign in', sign_out: 'Sign out', username: 'Username',
  password: 'Password', signing_in: 'Signing in…', bad_login: 'Wrong username or password', locked: 'Too many attempts; try again later',
  inbox: 'Alerts', cases: 'Cases', tips: 'Tips', webhooks: 'Webhooks', map: 'District map', report: 'Progress',
  acceptance: 'Acceptance', users: 'Users', import: 'Patch import', unread: 'unread', ack: 'Acknowledge', ack_all: 'Acknowledge all', acked: 'Acknowledged',
  live: 'live', reconnecting: 'reconnecting…', no_alerts: 'No alerts', status: 'Status', source: 'Source', overdue: 'Overdue',
  deadline: 'Deadline', town: 'Town', all: 'All', filter: 'Filter', number: 'No.', description: 'Description',
  address: 'Address', created: 'Found', updated: 'Updated', open: 'Open', back: 'Back', photos: 'Photos',
  history: 'Ledger', inspections: 'Inspections', transitions: 'Next steps', note: 'Note', do: 'Apply',
  near_boundary: 'near a town boundary', location: 'Location', violation: 'Violation', area: 'Area', save: 'Save',
  reassign: 'Reassign', to_town: 'to town', unassigned: 'Unassigned', none: 'none', loading: 'Loading…',
  triage: 'Triage', make_case: 'Open a case', merge: 'Merge into case', reject: 'Reject', reject_note: 'Why it is rejected',
  duplicates: 'Possible duplicates nearby', url: 'URL', secret: 'Secret', pause: 'Pause', resume: 'Resume',
  rotate: 'Rotate secret', deliveries: 'Deliveries', register: 'Register', delete: 'Delete', active: 'active', paused: 'paused',
  as_of: 'As of', download_csv: 'Download CSV', met: 'met', on_track: 'on track', at_risk: 'at risk', not_met: 'not met',
  accept: 'Accept', fail: 'Fail', to_check: 'To check', role: 'Role', display_name: 'Name', disable: 'Disable',
  enable: 'Enable', new_user: 'New user', campaigns: 'Campaigns', import_patches: 'Import satellite patches', upload: 'Upload',
  hide_empty: 'Hide towns with nothing to report', language: '中文', error: 'Something went wrong', forbidden: 'Not allowed', not_found: 'Not found',
  report_problem: 'Report illegal land use', pick_place: 'Tap the map to pick the place, or use your location', use_location: 'Use my location',
  what_happening: 'What is happening?', attach_photos: 'Add photos', contact_optional: 'Contact (optional)', name: 'Name',
  phone: 'Phone', email: 'Email', submit: 'Send report', uploading: 'Uploading photos…', submitted: 'Report received',
  receipt: 'Receipt', keep_receipt: 'Keep this link to follow your report', tip_status: 'Your report',
  public_received: 'received', public_in_progress: 'in progress', public_closed: 'closed', place_picked: 'Place picked',
  need_place: 'Pick the place first', need_description: 'Describe what is happening', retry: 'Retry', since: 'ago',
  far: (m) => `photo taken ${(m / 1000).toFixed(1)} km from the reported place`,
  time: (s) => `photo taken ${Math.round(Math.abs(s) / 60)} min from the reported time`,
  // The public tip page.
  optional: '(optional)', description_placeholder: 'e.g. a brick house going up on farmland east of the village, two storeys already',
  address_placeholder: 'Village, road or a landmark nearby', contact_hint: 'Seen only by the town office handling the report, to check details; you may leave it empty',
  map_hint: 'The map shows town outlines and a coordinate grid only: use your location, or tap the rough place and describe it in the address', zoom_in: 'Zoom in', zoom_out: 'Zoom out',
  locating: 'Finding your location…', location_failed: 'Could not get your location; tap the map instead', outside_baodi: '(this place is outside Baodi District)',
  photo_preparing: 'Reading…', uploading_one: 'Uploading', photo_uploaded: 'Uploaded', resuming: 'Connection lost; resuming…',
  photo_unreadable: 'This photo can not be read', photo_refused: (n) => `The photo "${n}" was not accepted`, remove: 'Remove', sending: 'Sending…',
  network_error: 'No connection. Everything you wrote is kept; press "Send report" again in a moment.',
  server_error: 'The service is unavailable right now. Everything you wrote is kept; try again later.',
  rate_limited: (s) => `Too many reports from this connection; try again in ${s < 60 ? `${s} seconds` : `${Math.ceil(s / 60)} minutes`}. Everything you wrote is kept.`,
  received_at: 'Received', updated_at: 'Last update', case_number: 'Case number', open_status: 'Follow your report',
  copy_link: 'Copy link', copied: 'Copied', new_report: 'Report something else', refresh: 'Refresh', my_reports: 'My reports (on this device)',
  receipt_not_found: 'No report found: check that the link is complete', explain_received: 'Your report has been received and is waiting to be checked.',
  explain_in_progress: 'A case has been opened and is being dealt with.', explain_closed: 'This report is closed.',
};

const names = {
  zh: {
    status: { reported: '已发现', registered: '已立案', rectifying: '整改中', rectified: '已整改', accepted: '已验收',
      closed: '已销号', dismissed: '不予立案' },
    source: { satellite: '卫片', legacy: '历史遗留', patrol: '巡查发现', idle_land: '闲置土地', tip: '群众举报' },
    kind: { case_new: '新案件', case_routed_in: '移入本镇', case_routed_out: '移出本镇', tip_received: '群众举报',
      deadline_7d: '7 天后到期', deadline_1d: '明天到期', deadline_passed: '已超期', acceptance_failed: '验收未通过',
      escalation: '无人处理升级' },
    role: { bureau_admin: '区分局', verifier: '领导小组', town_officer: '镇街', inspector: '巡查员' },
    flag: { no_exif: '照片无拍摄信息', no_gps: '照片无定位', no_capture_time: '照片无拍摄时间',
      reused_elsewhere: '照片也用于其他案件', far_from_report: '拍摄地点偏远', time_mismatch: '拍摄时间不符' },
    violation: { built_without_approval: '未批先建', beyond_approval: '少批多占', farmland_occupation: '非法占用耕地',
      aquaculture_on_farmland: '挖塘养鱼', illegal_transfer: '非法转让', idle_land: '闲置土地', other: '其他' },
    land_class: { inside_plan: '规划内', outside_plan: '规划外', basic_farmland: '基本农田' },
    disposition: { legalise_after_penalty: '罚款后补办', demolish_self: '自行拆除', demolish_forced: '强制拆除' },
    action: { created: '登记', imported: '导入', updated: '修改', transition: '状态变更', reassigned: '移交',
      inspection_recorded: '巡查' },
  },
  en: {
    status: { reported: 'reported', registered: 'registered', rectifying: 'rectifying', rectified: 'rectified',
      accepted: 'accepted', closed: 'closed', dismissed: 'dismissed' },
    source: { satellite: 'satellite', legacy: 'legacy', patrol: 'patrol', idle_land: 'idle land', tip: 'public tip' },
    kind: { case_new: 'new case', case_routed_in: 'routed in', case_routed_out: 'routed out', tip_received: 'tip',
      deadline_7d: 'due in 7 days', deadline_1d: 'due tomorrow', deadline_passed: 'overdue', acceptance_failed: 'acceptance failed',
      escalation: 'escalation' },
    role: { bureau_admin: 'bureau', verifier: 'verifier', town_officer: 'town office', inspector: 'inspector' },
    flag: { no_exif: 'no EXIF', no_gps: 'no GPS', no_capture_time: 'no capture time', reused_elsewhere: 'used in another case',
      far_from_report: 'far from the place', time_mismatch: 'time does not match' },
    violation: { built_without_approval: 'built without approval', beyond_approval: 'beyond approval',
      farmland_occupation: 'farmland occupation', aquaculture_on_farmland: 'fish ponds on farmland', illegal_transfer: 'illegal transfer',
      idle_land: 'idle land', other: 'other' },
    land_class: { inside_plan: 'inside the plan', outside_plan: 'outside the plan', basic_farmland: 'basic farmland' },
    disposition: { legalise_after_penalty: 'legalise after a penalty', demolish_self: 'demolished by the owner', demolish_forced: 'forced demolition' },
    action: { created: 'created', imported: 'imported', updated: 'updated', transition: 'transition', reassigned: 'reassigned',
      inspection_recorded: 'inspection' },
  },
};

export let lang = (typeof localStorage !== 'undefined' && localStorage.getItem('lp-lang')) || 'zh';

export function setLang(l) {
  lang = l;
  localStorage.setItem('lp-lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

/// A word (or a phrase-making function) of the current language.
export function t(key) {
  const d = lang === 'en' ? en : zh;
  return d[key] ?? zh[key] ?? key;
}

/// The name of a value of a list (status, source, alert kind, role, flag, action).
export function name(list, value) {
  return (names[lang][list] && names[lang][list][value]) || value;
}

/// An instant in the bureau's zone (Asia/Shanghai unless configured).
export function when(iso, zone = 'Asia/Shanghai') {
  if (!iso) return '';
  return new Date(iso).toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  });
}

/// Escapes text for HTML.
export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
