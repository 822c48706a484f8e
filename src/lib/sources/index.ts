import type {SourceName} from '../config/params.js'
import {csvSource} from './csv.js'
import {openMeteoSource} from './open-meteo.js'
import {openWeatherMapSource} from './openweathermap.js'
import {replaySource} from './replay.js'
import type {Source} from './types.js'

const SOURCES: Record<SourceName, Source> = {
  'open-meteo': openMeteoSource,
  openweathermap: openWeatherMapSource,
  replay: replaySource,
  csv: csvSource,
}

export function sourceByName(name: SourceName): Source {
  return SOURCES[name]
}
