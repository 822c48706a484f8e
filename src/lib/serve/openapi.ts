import type {ServedModel} from './served-model.js'

const errorSchema = {type: 'object', required: ['error'], properties: {error: {type: 'string'}}}

/** OpenAPI 3.1 for the current model: the request schemas are the ones /predict validates with. */
export function openApiDocument(model: ServedModel | undefined, version: string, bodyLimit: string): object {
  const request = model
    ? {type: 'object', required: ['instances'], additionalProperties: false, properties: {instances: {...model.requestSchema.properties.instances, items: {oneOf: [{$ref: '#/components/schemas/FeatureInstance'}, {$ref: '#/components/schemas/ObservationInstance'}]}}, horizons: model.requestSchema.properties.horizons}}
    : {type: 'object'}
  const error = (description: string) => ({description, content: {'application/json': {schema: {$ref: '#/components/schemas/Error'}}}})
  return {
    openapi: '3.1.0',
    info: {
      title: 'rps forecast API', version,
      description: `Forecasts ${model?.model.meta.target ?? 'the target'} ${model ? model.horizons.join(', ') : '?'} h ahead, each with its prediction intervals (split conformal on the model's holdout). Request bodies are limited to ${bodyLimit} (413 above). `
        + 'Observations instances: consecutive whole UTC hours, oldest first (x-rps-consecutive-hours: row k is the first row\'s hour + k h, a constraint JSON Schema cannot state); every other constraint is in the schemas. '
        + 'A wrong method on a known path answers 405 with an Allow header.',
    },
    paths: {
      '/predict': {
        post: {
          operationId: 'predict',
          requestBody: {
            required: true,
            content: {'application/json': {
              schema: {$ref: '#/components/schemas/PredictRequest'},
              ...(model ? {examples: {features: {value: {instances: [model.example()]}}, observations: {value: {instances: [model.exampleObservations()]}}}} : {}),
            }},
          },
          responses: {
            200: {description: 'Predictions, one per instance', content: {'application/json': {schema: {$ref: '#/components/schemas/PredictResponse'}}}},
            400: error('Invalid input, with the reason: bad JSON, wrong types, missing or unknown features, non-finite numbers, too few or too many instances or observations, observation times that are not consecutive whole UTC hours'),
            413: error('Body over the size limit'),
            415: error('Not application/json'),
            503: error('No model loaded'),
          },
        },
      },
      '/health': {get: {operationId: 'health', responses: {200: {description: 'The process is alive', content: {'application/json': {schema: {type: 'object', required: ['status'], properties: {status: {const: 'ok'}}}}}}}}},
      '/ready': {get: {operationId: 'ready', responses: {200: {description: 'A model is loaded', content: {'application/json': {schema: {type: 'object', required: ['ready'], properties: {ready: {const: true}, model: {type: 'object'}}}}}}, 503: error('No model loaded')}}},
      '/model': {get: {operationId: 'model', responses: {200: {description: 'The model being served', content: {'application/json': {schema: {type: 'object', required: ['name', 'version', 'features'], properties: {name: {type: 'string'}, version: {type: 'string'}, features: {type: 'array', items: {type: 'string'}}, horizons: {type: 'array', items: {type: 'integer'}}, intervalLevels: {type: 'array', items: {type: 'number'}}, minObservations: {type: 'integer'}, maxObservations: {type: 'integer'}}}}}}, 503: error('No model loaded')}}},
      '/metrics': {get: {operationId: 'metrics', responses: {200: {description: 'Prometheus metrics', content: {'text/plain': {schema: {type: 'string'}}}}}}},
      '/openapi.json': {get: {operationId: 'openapi', responses: {200: {description: 'This document', content: {'application/json': {schema: {type: 'object'}}}}}}},
      '/admin/reload': {
        post: {
          operationId: 'reload', security: [{bearer: []}],
          responses: {200: {description: 'Reloaded (or unchanged)', content: {'application/json': {schema: {type: 'object', required: ['changed', 'version'], properties: {changed: {type: 'boolean'}, version: {type: 'string'}}}}}}, 401: error('Missing or wrong bearer token'), 403: error('No admin token configured'), 422: error('The new model was rejected; the old one keeps serving')},
        },
      },
    },
    components: {
      securitySchemes: {bearer: {type: 'http', scheme: 'bearer'}},
      schemas: {
        PredictRequest: request,
        FeatureInstance: model?.requestSchema.featureInstance ?? {type: 'object'},
        ObservationInstance: model?.requestSchema.observationInstance ?? {type: 'object'},
        PredictResponse: {
          type: 'object', required: ['predictions'],
          properties: {
            predictions: {
              type: 'array',
              items: {
                type: 'object', required: ['prediction', 'target_time', 'model', 'out_of_distribution', 'path'],
                properties: {
                  prediction: {type: 'number', description: 'the forecast at the longest horizon'},
                  target_time: {type: ['string', 'null'], description: 'newest observation + the longest horizon (null for explicit features)'},
                  path: {
                    type: 'array', description: 'every requested horizon, ascending',
                    items: {
                      type: 'object', required: ['horizon', 'target_time', 'value'],
                      properties: {
                        horizon: {type: 'integer', description: 'hours ahead'},
                        target_time: {type: ['string', 'null'], description: 'newest observation + horizon (null for explicit features)'},
                        value: {type: 'number'},
                      },
                      patternProperties: {'^interval_[0-9.]+$': {type: 'array', items: {type: 'number'}, minItems: 2, maxItems: 2, description: 'the band [lower, upper] at this level (interval_80: 80 %)'}},
                    },
                  },
                  model: {type: 'object', required: ['name', 'version'], properties: {name: {type: 'string'}, version: {type: 'string'}}},
                  out_of_distribution: {type: 'array', items: {type: 'string'}},
                },
              },
            },
          },
        },
        Error: errorSchema,
      },
    },
  }
}
