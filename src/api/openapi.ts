import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorCode, errorDescriptions } from '../domain/errors.ts';
import { httpStatus } from './errors.ts';

/**
 * What a route says about itself, passed as its `config.openapi`. The zod schemas here are the ones
 * its handler parses with (parseQuery/parseBody in query.ts), so /openapi.json is generated from
 * what really validates the route and cannot drift from it.
 */
export interface RouteSchema {
  summary: string;
  /** `required`: a key must be presented; `optional`: one may be (an agent's, or reads under GRIDGOV_READ_AUTH). */
  auth?: 'required' | 'optional';
  params?: z.ZodObject;
  querystring?: z.ZodObject;
  body?: z.ZodType;
  /** Each status the route answers and what it means; 4xx and 5xx are documented with the one error shape. */
  responses: Record<number, string | ResponseSchema>;
  /** Served but not part of the API it describes (the documentation pages themselves). */
  hide?: boolean;
}

export interface ResponseSchema {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json. */
  contentType?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    openapi?: RouteSchema;
  }
}

type JsonSchema = Record<string, unknown>;
export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}
export interface Operation {
  summary: string;
  parameters: Parameter[];
  [field: string]: unknown;
}

/** The error shape every refusal has (src/api/errors.ts ApiError.toBody), field names the bad input. */
const errorBody = z.object({
  status: z.literal('error'),
  error_code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  field: z.string().optional().describe('The request field at fault, as a dotted path'),
});

/** zod → JSON Schema 2020-12 (OpenAPI 3.1's dialect), as a client must send it. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  // Refinements and transforms cannot be expressed; the input they start from is what is documented.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
}

function parameters(where: 'path' | 'query', schema: z.ZodObject | undefined): Parameter[] {
  if (!schema) return [];
  const described = jsonSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(described.properties ?? {}).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (described.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

function responses(declared: RouteSchema['responses']): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(declared).map(([status, response]) => {
      const { description, schema, contentType } = typeof response === 'string' ? { description: response } : response;
      const body = schema ? jsonSchema(schema) : Number(status) >= 400 ? { $ref: '#/components/schemas/Error' } : undefined;
      const content = body ? { content: { [contentType ?? 'application/json']: { schema: body } } } : {};
      return [status, { description, ...content }];
    }),
  );
}

function operation(route: RouteSchema): Operation {
  return {
    summary: route.summary,
    ...(route.auth === 'required' ? { security: [{ bearer: [] }] } : route.auth === 'optional' ? { security: [{}, { bearer: [] }] } : {}),
    parameters: [...parameters('path', route.params), ...parameters('query', route.querystring)],
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body) } } } } : {}),
    responses: responses(route.responses),
  };
}

/** Fastify's `/runs/:run_id` in OpenAPI's spelling, `/runs/{run_id}`. */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  components: Record<string, unknown>;
  paths: Record<string, Record<string, Operation>>;
}

/**
 * Collects every route's `config.openapi` as the route is registered (Fastify's onRoute hook, so
 * it must be called before any route is) and builds the OpenAPI 3.1 document from them. A route
 * registered without one is listed under `undocumented`, which the OpenAPI test refuses.
 */
export function collectOpenApi(app: FastifyInstance): { document(version: string): OpenApiDocument; undocumented: string[] } {
  const routes: Array<{ method: string; url: string; schema: RouteSchema }> = [];
  const undocumented: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      const schema = route.config?.openapi;
      if (schema) routes.push({ method: method.toLowerCase(), url: route.url, schema });
      else undocumented.push(`${method} ${route.url}`);
    }
  });
  return {
    undocumented,
    document(version) {
      const paths: OpenApiDocument['paths'] = {};
      for (const { method, url, schema } of routes) {
        if (schema.hide) continue;
        (paths[openApiPath(url)] ??= {})[method] = operation(schema);
      }
      return {
        openapi: '3.1.0',
        info: {
          title: 'Grid Governance Engine validator',
          version,
          description:
            'The only writer of the append-only ledger. Error codes:\n\n' +
            Object.values(ErrorCode)
              .map((c) => `- \`${c}\` (${httpStatus[c]}): ${errorDescriptions[c]}`)
              .join('\n'),
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'An API key (gridgov keys create) or GRIDGOV_ADMIN_KEY' },
          },
          schemas: { Error: jsonSchema(errorBody) },
        },
        paths,
      };
    },
  };
}
