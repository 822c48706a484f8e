import {Resvg} from '@resvg/resvg-js'
import * as vega from 'vega'
import {type TopLevelSpec, compile} from 'vega-lite'

/** Renders a Vega-Lite spec to SVG, headless (no canvas, no browser). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), {renderer: 'none'})
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** Rasterizes an SVG (for artifacts that must be images: MLflow, CML comments). */
export function svgToPng(svg: string, width = 900): Buffer {
  return Buffer.from(new Resvg(svg, {fitTo: {mode: 'width', value: width}, background: 'white', font: {loadSystemFonts: true}}).render().asPng())
}
