'use strict';
// Drives LivePerson's published client (liveperson-functions-client) against fngate and prints what it saw as JSON.
// Input (env FNGATE_CASE, JSON): {host, accountId, clientId, clientSecret, okUuid, failUuid, missingUuid, eventId}
const { Client } = require('liveperson-functions-client');

const c = JSON.parse(process.env.FNGATE_CASE);

function client(extra) {
  return new Client(
    { accountId: c.accountId, authStrategy: { clientId: c.clientId, clientSecret: c.clientSecret }, ...extra },
    { getCsdsEntry: async () => c.host },
  );
}

async function attempt(fn) {
  try {
    return { value: await fn() };
  } catch (err) {
    return { error: { name: err.name, message: err.message } };
  }
}

(async () => {
  const soft = client({});
  const strict = client({ failOnErrorStatusCode: true });
  const body = { headers: [{ key: 'k', value: 'v' }], payload: { name: 'npm' } };
  const out = {};
  out.invokeV1 = await attempt(() => soft.invoke({ lambdaUuid: c.okUuid, externalSystem: 'npm-e2e', body }));
  out.invokeFailSoft = await attempt(() => soft.invoke({ lambdaUuid: c.failUuid, externalSystem: 'npm-e2e', body }));
  out.invokeFailStrict = await attempt(() => strict.invoke({ lambdaUuid: c.failUuid, externalSystem: 'e2e', body }));
  out.invokeMissing = await attempt(() => soft.invoke({ lambdaUuid: c.missingUuid, externalSystem: 'e2e', body }));
  out.invokeMissingStrict = await attempt(() => strict.invoke({ lambdaUuid: c.missingUuid, body }));
  out.isImplemented = await attempt(() => soft.isImplemented({ eventId: c.eventId, externalSystem: 'e2e' }));
  out.isNotImplemented = await attempt(() => soft.isImplemented({ eventId: 'surveybot_messaging_survey_ended' }));
  out.invokeEvent = await attempt(() => soft.invoke({ eventId: c.eventId, externalSystem: 'e2e', body }));
  out.getLambdas = await attempt(() => soft.getLambdas({ externalSystem: 'e2e' }));
  out.getLambdasProductive = await attempt(() => soft.getLambdas({ state: ['Productive'], externalSystem: 'e2e' }));
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(String(err && err.stack));
  process.exit(1);
});
