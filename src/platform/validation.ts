import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type BuildValidator = NonNullable<NonNullable<SchemaController['compilersFactory']>['buildValidator']>;

/**
 * Validators that coerce only what arrives as text. A query string, path parameter or header has no types,
 * so `?limit=10` is read as the number the schema asks for (and a lone value as a one-item array). A JSON
 * body says what it means: a number where a string is due, or an array where one value is, is a 422 rather
 * than something quietly turned into what the schema wanted.
 */
export function validatorsCoercingTextOnly(): SchemaController {
  const coercing = AjvCompiler();
  const strict = AjvCompiler();
  const buildValidator: BuildValidator = (externalSchemas, options) => {
    const ajv = options ?? { customOptions: {} };
    const forText = coercing(externalSchemas, ajv);
    const bodyOptions = { ...ajv, customOptions: { ...ajv.customOptions, coerceTypes: false } };
    const forBodies = strict(externalSchemas, bodyOptions as typeof ajv);
    return (route) => (route.httpPart === 'body' ? forBodies(route) : forText(route));
  };
  return { compilersFactory: { buildValidator } };
}
