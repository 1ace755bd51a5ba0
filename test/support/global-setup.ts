// Placeholder: replaced by the database/Redis preparation of the integration tests.
export default async function globalSetup(): Promise<void> {}
