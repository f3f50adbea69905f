/* Renders the OpenAPI document of this server with Swagger UI, whose bundle the page loads before this script. */
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true });
