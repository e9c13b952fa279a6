// The text of a PDF through PDF.js (Mozilla's pdfjs-dist), loaded only when a PDF is opened. Text layer only:
// no rendering, no fonts, no eval (isEvalSupported off), so it runs under the page's Content-Security-Policy.
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';

/** Pages' text joined by blank lines; lines within a page follow PDF.js's end-of-line marks. */
export async function pdfText(data: ArrayBuffer, onPage?: (done: number, total: number) => void): Promise<string> {
  const pdfjs = await import('pdfjs-dist');
  pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;
  const doc = await pdfjs.getDocument({ data: new Uint8Array(data), isEvalSupported: false, useSystemFonts: false, disableFontFace: true }).promise;
  try {
    const pages: string[] = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const page = await doc.getPage(i);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        text += item.str + (item.hasEOL ? '\n' : '');
      }
      pages.push(text.trim());
      onPage?.(i, doc.numPages);
    }
    return pages.join('\n\n');
  } finally {
    await doc.destroy();
  }
}
