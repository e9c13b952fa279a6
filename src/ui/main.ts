// The demo page: a model from anywhere (bundled, Hub, URL, local folder) with its device and memory plan,
// questions about a long document answered with global or Star Attention, a live view of the hosts, and
// RULER with charts. DOM only; everything else is the public engine API (src/index.ts) and src/ruler.
import { initChatPanel } from './chat_panel';
import { $ } from './dom';
import { showStatus } from './errors_view';
import { initModelPanel, LoadProgress, readChoice, showEngineDevice } from './model_panel';
import { initRulerPanel, showMeasured } from './ruler_panel';
import { Session } from './session';
import { StarView } from './star_view';

const progress = new LoadProgress();
const session = new Session(readChoice, progress);
const view = new StarView(() => session.current?.config);

session.onLoad((engine) => {
  const g = engine.gpu;
  showStatus($('m-status'), `loaded ${session.choice?.label} on ${g.description || [g.vendor, g.architecture].filter(Boolean).join(' ') || 'WebGPU'}`);
  showEngineDevice(engine);
});

initModelPanel(session, progress);
initChatPanel(session, view);
initRulerPanel(session);
void showMeasured().catch((e) => ($('r-measured-where').textContent = `not available: ${e instanceof Error ? e.message : e}`));
